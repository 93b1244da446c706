import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { normalizeAliases } from '../src/config/aliases.js';
import { builtInDefaults } from '../src/config/defaults.js';
import { ENV_PORT_KEYS, ENV_STRING_KEYS, HEALTHCHECK_PASSWORD, HEALTHCHECK_USER, healthcheckLayer, readEnvironment } from '../src/config/env-layer.js';
import { isJsonObject, type Json, type JsonObject } from '../src/config/json.js';
import { LISTENER_NAMES, LISTENERS, REALM_LISTENERS } from '../src/config/listener-table.js';
import { configSchema } from '../src/config/schema.js';
import { REPO_ROOT } from './helpers/paths.js';

/*
 * The key table of docs/configuration.md against the code, so that neither can drift:
 *
 * - rows are `| \`key\` | default | environment | meaning |`, keys are dotted paths;
 * - the rows the code asks for come from configSchema (see schemaRows) and from every leaf of
 *   builtInDefaults(); every one needs a row, and every row must be a key of the schema;
 * - the default column: for a key builtInDefaults() sets, its first `code` span is that value
 *   (as text for strings, as JSON otherwise: `8880`, `true`, `{}`, `{"TLSv1.2": true, ...}`);
 *   for a key it does not set, the cell is empty or starts with "none";
 * - the environment column names exactly the variables src/config/env-layer.ts reads, each on
 *   the row of the key it sets.
 */

const CONFIGURATION_MD = path.join(REPO_ROOT, 'docs', 'configuration.md');
const README_MD = path.join(REPO_ROOT, 'README.md');
/** How the table writes "any listener" in a key: `listeners.<name>`. */
const ANY_LISTENER = '<name>';

/** A markdown table row's cells; `\|` inside a cell is not a separator. */
function cellsOf(line: string): string[] {
  const cells = line.trim().split(/(?<!\\)\|/).map((cell) => cell.trim());
  return cells.slice(1, -1);
}

/** The text of every `code` span, in order. */
function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
}

/** The rows of the markdown table whose header row is exactly `header`. */
function tableRows(markdown: string, header: string, file: string): { cells: string[]; line: number }[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === header);
  assert.notEqual(start, -1, `${file} has no table with the header ${header}`);
  const rows: { cells: string[]; line: number }[] = [];
  for (let index = start + 2; index < lines.length; index++) {
    const line = lines[index] ?? '';
    if (!line.trim().startsWith('|')) break;
    rows.push({ cells: cellsOf(line), line: index + 1 });
  }
  return rows;
}

interface KeyRow {
  key: string;
  defaultCell: string;
  environment: string[];
  meaning: string;
  line: number;
}

const KEY_TABLE_HEADER = '| key | default | environment | meaning |';

function parseKeyTable(markdown: string): KeyRow[] {
  return tableRows(markdown, KEY_TABLE_HEADER, 'docs/configuration.md').map(({ cells, line }) => {
    assert.equal(cells.length, 4, `docs/configuration.md:${line}: a key row has 4 cells, found ${cells.length}`);
    const [keyCell = '', defaultCell = '', environment = '', meaning = ''] = cells;
    // The key cell is one code span, optionally followed by a remark such as "(sic)".
    const key = /^`([^`]+)`(\s+\([^)]*\))?$/.exec(keyCell)?.[1];
    assert.ok(key !== undefined, `docs/configuration.md:${line}: the key cell must be \`key\`, found ${keyCell}`);
    return { key, defaultCell, environment: codeSpans(environment), meaning, line };
  });
}

// The schema side.

type Schema = z.core.$ZodType;

function unwrap(schema: Schema): Schema {
  let current = schema;
  while (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault) current = current.unwrap();
  return current;
}

/** The fields of a z.object / z.looseObject (optional or not), or undefined for anything else. */
function objectFields(schema: Schema): [string, Schema][] | undefined {
  const inner = unwrap(schema);
  if (!(inner instanceof z.ZodObject)) return undefined;
  const shape: Readonly<Record<string, Schema>> = inner.shape;
  return Object.entries(shape);
}

interface ListenerBlock {
  /** `listeners.<name>` */
  row: string;
  /** Keys of the block that are not objects: the `listeners.<name>` row stands for them. */
  scalarKeys: string[];
  /** Objects inside the block, each with its own row (`listeners.<name>.limits`) and its keys. */
  objects: { key: string; keys: string[] }[];
}

interface SchemaRows {
  rows: string[];
  blocks: ListenerBlock[];
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((item) => b.includes(item));

/**
 * The rows configSchema asks for:
 * - a key whose schema (optional unwrapped) is an object expands into its keys, recursively:
 *   `loginRateLimit.maxFailures`, `limits.maxBodyBytes`, `identity.healthcheckAPI`;
 * - records (`enabledProtocols`, `cipher`, each `identity.<realm>` of accounts) and every other
 *   schema are leaves: one row each;
 * - an object keyed by exactly the listener names (`listeners`) holds per-listener blocks of one
 *   shape (a block's keys of its own, such as `listeners.data.upstream`, are expanded like any
 *   other key): one row `listeners.<name>` stands for the block's own keys (`enabled`, `HOST`, the TLS
 *   keys: its meaning must name each), and each object inside the block gets one row of its own
 *   (`listeners.<name>.limits`), not expanded: it takes the keys of the top-level object of the
 *   same name (`limits`), which is checked separately.
 */
function schemaRows(fields: [string, Schema][], prefix = ''): SchemaRows {
  const out: SchemaRows = { rows: [], blocks: [] };
  for (const [key, field] of fields) {
    const name = `${prefix}${key}`;
    const children = objectFields(field);
    if (children === undefined) {
      out.rows.push(name);
    } else if (sameSet(children.map(([child]) => child), LISTENER_NAMES)) {
      const blocks = children.map(([listener, block]) => {
        const blockFields = objectFields(block);
        assert.ok(blockFields, `${name}.${listener} is not an object schema`);
        return blockFields;
      });
      const keysOf = (block: [string, Schema][]): string[] => block.map(([blockKey]) => blockKey);
      // Keys every block has, with the same schema, share the `listeners.<name>` rows; a block's own
      // extra keys (the data listener's `upstream`) and its own take on a shared one (the front
      // listener's `enabled`, false by default) get rows of their own, `listeners.data.upstream.url`.
      const schemaOf = (block: [string, Schema][], key: string): Schema | undefined => block.find(([blockKey]) => blockKey === key)?.[1];
      // The schema most blocks have for a key is the shared one.
      const shared = (key: string): Schema | undefined => {
        const schemas = blocks.map((block) => schemaOf(block, key));
        return schemas.reduce<Schema | undefined>((best, schema) => (schemas.filter((s) => s === schema).length > schemas.filter((s) => s === best).length ? schema : best), schemas[0]);
      };
      const common = (blocks[0] ?? []).filter(([blockKey]) => blocks.every((block) => keysOf(block).includes(blockKey))).map(([blockKey]): [string, Schema] => [blockKey, shared(blockKey) ?? z.never()]);
      children.forEach(([listener], index) => {
        const own = blocks[index] ?? [];
        const extra = own.filter(([blockKey, schema]) => !common.some(([key, commonSchema]) => key === blockKey && commonSchema === schema));
        const nested = schemaRows(extra, `${name}.${listener}.`);
        out.rows.push(...nested.rows);
        out.blocks.push(...nested.blocks);
      });
      const first = common;
      const row = `${name}.${ANY_LISTENER}`;
      const objects = first.flatMap(([blockKey, schema]) => {
        const nested = objectFields(schema);
        return nested === undefined ? [] : [{ key: blockKey, keys: keysOf(nested) }];
      });
      out.rows.push(row, ...objects.map((object) => `${row}.${object.key}`));
      out.blocks.push({ row, scalarKeys: keysOf(first).filter((blockKey) => !objects.some((object) => object.key === blockKey)), objects });
    } else {
      const nested = schemaRows(children, `${name}.`);
      out.rows.push(...nested.rows);
      out.blocks.push(...nested.blocks);
    }
  }
  return out;
}

// The defaults side.

/**
 * Every leaf of a defaults object, keyed like the table: the walk stops at a key that has a row
 * (so `enabledProtocols` is one value, not `enabledProtocols.TLSv1.2`), at non-objects and at `{}`.
 */
function defaultLeaves(defaults: JsonObject, rows: ReadonlySet<string>, prefix = ''): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const [key, value] of Object.entries(defaults)) {
    const name = `${prefix}${key}`;
    if (rows.has(name) || !isJsonObject(value) || Object.keys(value).length === 0) out.set(name, value);
    else for (const [leaf, leafValue] of defaultLeaves(value, rows, `${name}.`)) out.set(leaf, leafValue);
  }
  return out;
}

/** Does a default cell state `value`? Its first code span, read as text for strings, as JSON otherwise. */
function statesDefault(cell: string, value: Json): boolean {
  const stated = codeSpans(cell)[0];
  if (stated === undefined) return false;
  if (typeof value === 'string') return stated === value;
  try {
    const parsed: unknown = JSON.parse(stated);
    return isDeepStrictEqual(parsed, value);
  } catch {
    return false;
  }
}

/** A cell for a key keepd has no default for. */
function statesNoDefault(cell: string): boolean {
  return cell === '' || /^none\b/.test(cell);
}

/** Every row whose default cell disagrees with `defaults`, as `key: why`. */
function defaultMismatches(rows: readonly KeyRow[], defaults: ReadonlyMap<string, Json>): string[] {
  return rows.flatMap((row) => {
    const value = defaults.get(row.key);
    if (value === undefined) {
      return statesNoDefault(row.defaultCell) ? [] : [`${row.key}: the table states a default (${row.defaultCell}) but builtInDefaults() sets none; write "none"`];
    }
    return statesDefault(row.defaultCell, value) ? [] : [`${row.key}: the table says ${row.defaultCell || '(nothing)'}, builtInDefaults() has ${JSON.stringify(value)}`];
  });
}

/** A key table in the docs' format that states exactly `values`, plus a row without a default. */
function renderKeyTable(values: ReadonlyMap<string, Json>): string {
  const cell = (value: Json): string => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
  const rows = [...values].map(([key, value]) => `| \`${key}\` | ${cell(value)} | | |`);
  return [KEY_TABLE_HEADER, '|---|---|---|---|', ...rows, '| `HOST` (all interfaces) | none | `HOST` | |'].join('\n');
}

/** A value that differs from `value` and is of the same kind: 75 -> 76, true -> false, {} -> a non-empty object. */
function changedValue(value: Json): Json {
  if (typeof value === 'number') return value + 1;
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'string') return `${value}-changed`;
  if (Array.isArray(value)) return [...value, 'changed'];
  if (isJsonObject(value)) return { ...value, 'TLSv1.3': false, TLS_AES_256_GCM_SHA384: true };
  return 'changed';
}

// The environment side.

/** The rows a layer's data sets: the walk stops at the first key that has a row. */
function rowsSetBy(data: JsonObject, rows: ReadonlySet<string>, prefix = ''): string[] {
  return Object.entries(data).flatMap(([key, value]) => {
    const name = `${prefix}${key}`;
    return rows.has(name) || !isJsonObject(value) ? [name] : rowsSetBy(value, rows, `${name}.`);
  });
}

/** Every variable env-layer.ts reads, with the rows it sets (found by running the environment layer). */
function environmentRows(rows: ReadonlySet<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const variable of [...ENV_PORT_KEYS, ...ENV_STRING_KEYS]) {
    const { layer } = readEnvironment({ [variable]: '8880' });
    out.set(variable, rowsSetBy(normalizeAliases(layer, () => 'env').layer.data, rows));
  }
  const { healthcheck } = readEnvironment({ [HEALTHCHECK_USER]: 'user', [HEALTHCHECK_PASSWORD]: 'password' });
  assert.ok(healthcheck, `${HEALTHCHECK_USER} and ${HEALTHCHECK_PASSWORD} should give an account`);
  const healthRows = rowsSetBy(healthcheckLayer(healthcheck.user, 'HASH:SALT').data, rows);
  out.set(HEALTHCHECK_USER, healthRows);
  out.set(HEALTHCHECK_PASSWORD, healthRows);
  return out;
}

// The checks.

const table = parseKeyTable(readFileSync(CONFIGURATION_MD, 'utf8'));
const documented = table.map((row) => row.key);
const fromSchema = schemaRows(objectFields(configSchema) ?? []);
const schemaKeys = new Set(fromSchema.rows);
const defaults = defaultLeaves(builtInDefaults(), schemaKeys);
const rowOf = (key: string): KeyRow | undefined => table.find((row) => row.key === key);

describe('the key table of docs/configuration.md', () => {
  it('has one row per key', () => {
    const repeated = documented.filter((key, index) => documented.indexOf(key) !== index);
    assert.deepEqual(repeated, [], `keys with more than one row: ${repeated.join(', ')}`);
  });

  it('documents every key of the schema and of the built-in defaults', () => {
    const missing = [...new Set([...fromSchema.rows, ...defaults.keys()])].filter((key) => !documented.includes(key));
    assert.deepEqual(missing, [], `keys without a row in docs/configuration.md: ${missing.join(', ')}`);
  });

  it('documents only keys the schema validates', () => {
    const extra = documented.filter((key) => !schemaKeys.has(key));
    assert.deepEqual(extra, [], `rows of docs/configuration.md that are no key of configSchema: ${extra.join(', ')}`);
  });

  it('has a default in builtInDefaults() only for keys the schema validates', () => {
    const unvalidated = [...defaults.keys()].filter((key) => !schemaKeys.has(key));
    assert.deepEqual(unvalidated, [], `defaults.ts sets keys configSchema does not know: ${unvalidated.join(', ')}`);
  });

  it('states every built-in default, and "none" where there is none', () => {
    const wrong = defaultMismatches(table, defaults);
    assert.deepEqual(wrong, [], `the default column disagrees with src/config/defaults.ts:\n  ${wrong.join('\n  ')}`);
  });

  it('names each key of a per-listener block in the block row, and block objects repeat the top-level ones', () => {
    assert.ok(fromSchema.blocks.length > 0, 'configSchema has no per-listener blocks any more: update schemaRows');
    for (const block of fromSchema.blocks) {
      const row = rowOf(block.row);
      assert.ok(row, `no row ${block.row}`);
      const named = codeSpans(row.meaning);
      const unnamed = block.scalarKeys.filter((key) => !named.includes(key));
      assert.deepEqual(unnamed, [], `docs/configuration.md:${row.line}: the meaning of ${block.row} does not name ${unnamed.join(', ')}`);
      for (const object of block.objects) {
        const topField = (objectFields(configSchema) ?? []).find(([key]) => key === object.key)?.[1];
        const topLevel = topField === undefined ? undefined : objectFields(topField);
        assert.ok(topLevel, `${block.row}.${object.key} is documented as "any of the \`${object.key}\` keys", but there is no top-level object ${object.key}`);
        assert.deepEqual(object.keys, topLevel.map(([key]) => key), `${block.row}.${object.key} takes other keys than the top-level ${object.key}`);
      }
    }
  });

  it('names in the environment column only variables that src/config/env-layer.ts reads', () => {
    const read = environmentRows(schemaKeys);
    const unknown = table.flatMap((row) => row.environment.filter((variable) => !read.has(variable)).map((variable) => `${variable} (row ${row.key})`));
    assert.deepEqual(unknown, [], `variables the environment layer does not read: ${unknown.join(', ')}`);
  });

  it('names every variable src/config/env-layer.ts reads, on the row of the key it sets', () => {
    const expected = [...environmentRows(schemaKeys)].flatMap(([variable, keys]) => keys.map((key) => `${key} <- ${variable}`)).sort();
    const found = table.flatMap((row) => row.environment.map((variable) => `${row.key} <- ${variable}`)).sort();
    const missing = expected.filter((pair) => !found.includes(pair));
    const misplaced = found.filter((pair) => !expected.includes(pair));
    assert.deepEqual({ missing, misplaced }, { missing: [], misplaced: [] }, 'environment column vs src/config/env-layer.ts (key <- variable)');
  });
});

describe('the comparison of a default cell with a value', () => {
  const both = { 'TLSv1.2': true, 'TLSv1.3': true };
  const cases: [cell: string, value: Json, states: boolean][] = [
    ['`8880`', 8880, true],
    ['`8881`', 8880, false],
    ['`"8880"`', 8880, false],
    ['8880', 8880, false],
    ['`info`', 'info', true],
    ['`debug`', 'info', false],
    ['`true`', true, true],
    ['`false`', true, false],
    ['`75`', 80, false],
    ['`10000`', 10_000, true],
    ['`10,000`', 10_000, false],
    ['`{}`', {}, true],
    ["`{}`: keepd's modern list", {}, true],
    ["keepd's modern list", {}, false],
    ['`{}`', { TLS_AES_128_GCM_SHA256: true }, false],
    ['`{"TLSv1.2": true, "TLSv1.3": true}`', both, true],
    ['`{"TLSv1.3": true, "TLSv1.2": true}`', both, true],
    ['`{"TLSv1.2": true}`', both, false],
    ['`{"TLSv1.2": true, "TLSv1.3": false}`', both, false],
    ['TLS 1.2 and 1.3', both, false],
    ['none', 10, false],
  ];
  for (const [cell, value, states] of cases) {
    it(`${states ? 'accepts' : 'refuses'} ${cell} for ${JSON.stringify(value)}`, () => {
      assert.equal(statesDefault(cell, value), states);
    });
  }

  // These run on a table rendered from the defaults, not on the docs: they test the comparison
  // itself, and keep passing (or failing) independently of the docs.
  const rendered = parseKeyTable(renderKeyTable(defaults));

  it('finds nothing to say about a table that states every default', () => {
    assert.deepEqual(defaultMismatches(rendered, defaults), []);
  });

  it('catches any one default changed in a copy of the defaults, and only that one', () => {
    assert.ok(defaults.size > 0, 'no defaults found');
    for (const [key, value] of defaults) {
      const changed = new Map(defaults);
      changed.set(key, changedValue(value));
      assert.deepEqual(defaultMismatches(rendered, changed).map((message) => message.split(':')[0]), [key], `${key}: ${JSON.stringify(value)} -> ${JSON.stringify(changedValue(value))}`);
    }
  });

  it('catches a default the table states but builtInDefaults() no longer sets', () => {
    for (const key of defaults.keys()) {
      const fewer = new Map(defaults);
      fewer.delete(key);
      assert.deepEqual(defaultMismatches(rendered, fewer).map((message) => message.split(':')[0]), [key], key);
    }
    const host: KeyRow = { key: 'HOST', defaultCell: '`::`', environment: ['HOST'], meaning: '', line: 0 };
    assert.deepEqual(defaultMismatches([host], defaults).map((message) => message.split(':')[0]), ['HOST']);
  });
});

describe('the ports table of README.md', () => {
  it('says what src/config/listener-table.ts says', () => {
    const rows = tableRows(readFileSync(README_MD, 'utf8'), '| listener | port key | default port | realm |', 'README.md');
    const documentedPorts = rows.map(({ cells }) => [cells[0], codeSpans(cells[1] ?? '')[0], Number(cells[2]), codeSpans(cells[3] ?? '')[0]]);
    const actual = REALM_LISTENERS.map((name) => [name, LISTENERS[name].portKey, LISTENERS[name].defaultPort, LISTENERS[name].realm]);
    assert.deepEqual(documentedPorts, actual);
  });
});
