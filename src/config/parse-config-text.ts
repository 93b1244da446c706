import { parse as parseLenient, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { isJsonObject, type Json, type JsonObject } from './json.js';
import type { ConfigProblem } from './problems.js';

export type ParsedText = { ok: true; data: JsonObject } | { ok: false; problem: ConfigProblem };

const BOM = '\uFEFF';

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

/** The first syntax error of a text that JSON.parse refused, with its position. */
function locateSyntaxError(text: string): { offset: number; message: string } {
  const errors: ParseError[] = [];
  parseLenient(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (first === undefined) return { offset: 0, message: 'not valid JSON' };
  if (first.offset >= text.trimEnd().length) {
    return { offset: first.offset, message: 'the file ends too early (an unclosed brace, bracket or string, or a file still being written?)' };
  }
  const code = printParseErrorCode(first.error);
  return { offset: first.offset, message: READABLE_ERROR[code] ?? code };
}

function describeRoot(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * A keepconfig.d file's text to its top-level object. Accepts a UTF-8 byte-order mark (Windows
 * Notepad writes one); everything else must be strict JSON with an object at the top.
 */
export function parseConfigText(text: string, source: string): ParsedText {
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  if (body.trim() === '') {
    return { ok: false, problem: { source, message: 'the file is empty; it must hold a JSON object such as {"PORT": 8880}' } };
  }
  let value: Json;
  try {
    value = JSON.parse(body) as Json;
  } catch {
    const { offset, message } = locateSyntaxError(body);
    const { line, column } = lineAndColumn(body, offset);
    return { ok: false, problem: { source, line, column, message: `invalid JSON: ${message}` } };
  }
  if (!isJsonObject(value)) {
    return {
      ok: false,
      problem: { source, message: `the top level must be a JSON object {...}, found ${describeRoot(value)}` },
    };
  }
  return { ok: true, data: value };
}
