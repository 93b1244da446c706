/*
 * One pass over a configuration file's text, before JSON.parse builds anything: nesting depth,
 * value count and keys repeated in one object. Everything after the parse (merge, validation,
 * masking, provenance) walks values recursively and per value.
 */

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

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

export function isWhitespace(c: number): boolean {
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
