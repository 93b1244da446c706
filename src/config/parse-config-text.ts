import { printParseErrorCode, visit, type ParseErrorCode } from 'jsonc-parser';
import { isJsonObject, type Json, type JsonObject } from './json.js';
import { formatPath, type ConfigProblem } from './problems.js';

export type ParsedText = { ok: true; data: JsonObject } | { ok: false; problems: ConfigProblem[] };

const BOM = '\uFEFF';

/**
 * How deep objects and arrays may nest in one file. keepd's own settings go 4 levels deep
 * (`identity.managementAPI.<account>.secret`, `listeners.health.limits.maxBodyBytes`), and product
 * keys a few more; 64 leaves plenty of room. What it prevents: everything after parsing (merge,
 * validation, masking, provenance) walks the value recursively, and 2000 levels exhausted the stack.
 * Checked on the text, before anything recursive runs.
 */
export const MAX_NESTING_DEPTH = 64;

/**
 * How many JSON values (each key's value, each array element) one file may hold. Everything after
 * parsing works per value, the merge most of all: 1 MiB of tiny keys (120,000 values; empty
 * arrays give 350,000) blocked the event loop for 0.4 s per load, over a second on a busy machine;
 * 25,000 values cost about 0.1 s. keepd's own settings are a few hundred values; an account is 4,
 * so a 1 MiB file of accounts (about 4,000) is 16,000 values. Counted on the text, before anything
 * is built.
 */
export const MAX_VALUES_PER_FILE = 25_000;

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

interface Frame {
  object: boolean;
  /** Objects: offset of each key's first occurrence (made on the first key). */
  keys: Map<string, number> | undefined;
  /** Objects: the key whose value comes next or is being read. */
  key: string;
  /** Objects: the next string is a key. */
  expectKey: boolean;
  /** Arrays: index of the element being read. */
  index: number;
  /** Objects: keys met more than once, with the offset of every occurrence. */
  duplicates: Map<string, number[]> | undefined;
}

export interface DuplicateKey {
  /** Path of the repeated key, from the top of the file. */
  path: (string | number)[];
  /** Character offset of every occurrence of the key (its opening quote). */
  offsets: number[];
}

export interface ScanLimits {
  maxDepth: number;
  maxValues: number;
}

export interface StructureScan {
  /** Where the scan stopped because a limit was crossed: an object or array opening too deep, or one value too many. */
  exceeded?: { limit: 'depth' | 'values'; offset: number };
  /** JSON values met (every key's value, every array element, and the top-level value). */
  values: number;
  /** Keys repeated in one object, in the order of their second occurrence; meaningful for valid JSON only. */
  duplicates: DuplicateKey[];
}

function decodeKey(raw: string, escaped: boolean): string {
  if (!escaped) return raw;
  try {
    const decoded: unknown = JSON.parse(`"${raw}"`);
    return typeof decoded === 'string' ? decoded : raw;
  } catch {
    return raw; // a broken escape: JSON.parse of the whole text reports it
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * One pass over a JSON text, without building its value: how deep it nests and how many values it
 * holds (stopping where either crosses its limit), and the keys that appear more than once in the
 * same object (JSON.parse keeps the last and drops the others without a word). Tolerant of broken
 * text: it follows only strings, brackets and commas, so its depth and count hold for any text,
 * its duplicates for valid JSON. Allocates per key only the Map entry (and per container a frame).
 */
export function scanStructure(text: string, limits: ScanLimits = { maxDepth: MAX_NESTING_DEPTH, maxValues: MAX_VALUES_PER_FILE }): StructureScan {
  const stack: Frame[] = [];
  const found: { key: string; path: (string | number)[]; offsets: number[] }[] = [];
  // The top-level value; then one per key and one per array element.
  let values = 1;
  // The last character outside strings that is not whitespace: is the array being closed empty?
  let previous = 0;
  const length = text.length;
  const stop = (limit: 'depth' | 'values', offset: number): StructureScan => ({ exceeded: { limit, offset }, values, duplicates: [] });
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // A string: to the closing quote, skipping escapes; a raw line break ends a (broken) string.
      let end = i + 1;
      let escaped = false;
      for (; end < length; end++) {
        const d = text.charCodeAt(end);
        if (d === QUOTE || d === 0x0a) break;
        if (d === BACKSLASH) {
          escaped = true;
          end++;
        }
      }
      const top = stack[stack.length - 1];
      if (top?.object === true && top.expectKey) {
        if (++values > limits.maxValues) return stop('values', i);
        const key = decodeKey(text.slice(i + 1, Math.min(end, length)), escaped);
        top.expectKey = false;
        top.key = key;
        top.keys ??= new Map();
        const first = top.keys.get(key);
        if (first === undefined) {
          top.keys.set(key, i);
        } else {
          top.duplicates ??= new Map();
          const offsets = top.duplicates.get(key);
          if (offsets) offsets.push(i);
          else top.duplicates.set(key, [first, i]);
        }
      }
      previous = QUOTE;
      i = end;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (stack.length >= limits.maxDepth) return stop('depth', i);
      stack.push({ object: c === OPEN_BRACE, keys: undefined, key: '', expectKey: c === OPEN_BRACE, index: 0, duplicates: undefined });
      previous = c;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      const closed = stack.pop();
      if (closed && !closed.object && previous !== OPEN_BRACKET && previous !== COMMA && ++values > limits.maxValues) return stop('values', i);
      if (closed?.duplicates) {
        const parents = stack.map((frame) => (frame.object ? frame.key : frame.index));
        for (const [key, offsets] of closed.duplicates) found.push({ key, path: [...parents, key], offsets });
      }
      previous = c;
    } else if (c === COMMA) {
      const top = stack[stack.length - 1];
      if (top?.object === true) {
        top.expectKey = true;
      } else if (top) {
        top.index++;
        if (++values > limits.maxValues) return stop('values', i);
      }
      previous = c;
    } else if (!isWhitespace(c)) {
      previous = c;
    }
  }
  const duplicates = found.map(({ path, offsets }) => ({ path, offsets }));
  duplicates.sort((a, b) => (a.offsets[1] ?? 0) - (b.offsets[1] ?? 0));
  return { values, duplicates };
}

/** Line and column of many offsets of one text, from one index of its line starts. */
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
  return { ok: true, data: value };
}
