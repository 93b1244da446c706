import { printParseErrorCode, visit, type ParseErrorCode } from 'jsonc-parser';
import { isJsonObject, type Json, type JsonObject } from './json.js';
import { BACKSLASH, isWhitespace, MAX_NESTING_DEPTH, MAX_VALUES_PER_FILE, OPEN_BRACE, QUOTE, scanStructure, type DuplicateKey, type ScanLimits } from './json-structure.js';
import { formatPath, type ConfigProblem } from './problems.js';

/** `values`: how many JSON values the file holds (its share of a load's total, see read-config-dir.ts). */
export type ParsedText = { ok: true; data: JsonObject; values: number } | { ok: false; problems: ConfigProblem[] };

const BOM = '\uFEFF';



/** Duplicate keys reported one by one per file; more are counted in one last problem. */
export const MAX_DUPLICATES_REPORTED = 10;

/** Line and column (1-based) of a character offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const READABLE_ERROR: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a key in double quotes (is there a trailing comma?)',
  ValueExpected: 'expected a value (is there a trailing comma?)',
  ColonExpected: 'expected a colon after the key',
  CommaExpected: 'expected a comma between entries',
  CloseBraceExpected: 'expected a closing brace }',
  CloseBracketExpected: 'expected a closing bracket ]',
  EndOfFileExpected: 'unexpected content after the end of the JSON value',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'comments are not allowed in JSON',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'incomplete number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in string (control characters must be escaped)',
};

/** Thrown from the visitor at the first error: the rest of a large broken file is not scanned. */
class FirstError extends Error {
  constructor(
    readonly code: ParseErrorCode,
    readonly offset: number,
  ) {
    super('first syntax error');
  }
}

/**
 * The first syntax error of a text that JSON.parse refused, with its position. Stops at that error
 * (jsonc-parser's parse would go on to the end, building a value nobody uses). Its parser is
 * recursive: callers check the nesting first.
 */
function locateSyntaxError(text: string): { offset: number; message: string } {
  let first: FirstError | undefined;
  try {
    visit(
      text,
      {
        onError: (code, offset) => {
          throw new FirstError(code, offset);
        },
      },
      { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
    );
  } catch (error) {
    if (!(error instanceof FirstError)) throw error;
    first = error;
  }
  if (first === undefined) return { offset: 0, message: 'not valid JSON' };
  if (first.offset >= text.trimEnd().length) {
    return { offset: first.offset, message: 'the file ends too early (an unclosed brace, bracket or string, or a file still being written?)' };
  }
  const code = printParseErrorCode(first.code);
  return { offset: first.offset, message: READABLE_ERROR[code] ?? code };
}

function locator(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((starts[middle] ?? 0) <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: offset - (starts[low] ?? 0) + 1 };
  };
}

/** Does the value of the key whose opening quote is at `offset` start with a brace? */
function valueIsObject(text: string, offset: number): boolean {
  let i = offset + 1;
  while (i < text.length && text.charCodeAt(i) !== QUOTE) i += text.charCodeAt(i) === BACKSLASH ? 2 : 1;
  i++;
  while (i < text.length && (isWhitespace(text.charCodeAt(i)) || text.charCodeAt(i) === 0x3a)) i++;
  return text.charCodeAt(i) === OPEN_BRACE;
}

function duplicateProblem(source: string, text: string, duplicate: DuplicateKey, locate: (offset: number) => { line: number; column: number }): ConfigProblem {
  const places = duplicate.offsets.map(locate);
  const lines = places.map((place) => place.line);
  const twice = places.length === 2;
  const times = twice ? 'twice' : `${places.length} times`;
  // "lines 3 and 9"; "at 4:20 and 4:29" (line:column) when one line holds several.
  const distinct = new Set(lines).size === lines.length;
  const named = places.map((place) => (distinct ? String(place.line) : `${place.line}:${place.column}`));
  const last = named.pop() ?? '';
  const where = `${distinct ? 'lines' : 'at'} ${named.join(', ')} and ${last}`;
  const why = `JSON keeps only the last one; ${twice ? 'the first' : 'the earlier ones'} would be ignored`;
  const blocks = duplicate.offsets.every((offset) => valueIsObject(text, offset));
  const fix = blocks ? `merge the ${twice ? 'two' : places.length} blocks (${why})` : `keep only one (${why})`;
  // Located at the second occurrence: from there on, JSON.parse silently replaces.
  const at = places[1] ?? { line: 1, column: 1 };
  return { source, path: formatPath(duplicate.path), line: at.line, column: at.column, message: `appears ${times} in this file (${where}): ${fix}` };
}

function describeRoot(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * A keepconfig.d file's text to its top-level object. Accepts a UTF-8 byte-order mark (Windows
 * Notepad writes one); everything else must be strict JSON with an object at the top, nested at
 * most MAX_NESTING_DEPTH levels, holding at most MAX_VALUES_PER_FILE values, without a key twice in
 * one object.
 */
export function parseConfigText(text: string, source: string, limits: ScanLimits = { maxDepth: MAX_NESTING_DEPTH, maxValues: MAX_VALUES_PER_FILE }): ParsedText {
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  if (body.trim() === '') {
    return { ok: false, problems: [{ source, message: 'the file is empty; it must hold a JSON object such as {"PORT": 8880}' }] };
  }
  // First, before anything recursive or per value (the syntax error locator included) sees the text.
  const scan = scanStructure(body, limits);
  if (scan.exceeded) {
    const message =
      scan.exceeded.limit === 'depth'
        ? `nested more than ${limits.maxDepth} levels deep here (the limit; keepd's own settings are at most 4 levels deep): is this a keepd configuration file?`
        : `more than ${limits.maxValues.toLocaleString('en-US')} values (keys and array items) by here, the limit per file (keepd's own settings are a few hundred; an account takes 4): is this a keepd configuration file?`;
    return { ok: false, problems: [{ source, ...lineAndColumn(body, scan.exceeded.offset), message }] };
  }
  let value: Json;
  try {
    value = JSON.parse(body) as Json;
  } catch {
    const { offset, message } = locateSyntaxError(body);
    const { line, column } = lineAndColumn(body, offset);
    return { ok: false, problems: [{ source, line, column, message: `invalid JSON: ${message}` }] };
  }
  if (!isJsonObject(value)) {
    return {
      ok: false,
      problems: [{ source, message: `the top level must be a JSON object {...}, found ${describeRoot(value)}` }],
    };
  }
  if (scan.duplicates.length > 0) {
    const locate = locator(body);
    const shown = scan.duplicates.slice(0, MAX_DUPLICATES_REPORTED).map((duplicate) => duplicateProblem(source, body, duplicate, locate));
    const more = scan.duplicates.length - shown.length;
    if (more > 0) shown.push({ source, message: `and ${more.toLocaleString('en-US')} more key(s) that appear more than once in one object of this file` });
    return { ok: false, problems: shown };
  }
  return { ok: true, data: value, values: scan.values };
}
