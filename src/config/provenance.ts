import { displayAccountName } from './account-name.js';
import { isJsonObject, setOwn, type Json, type JsonObject } from './json.js';
import type { SourceTree } from './merge.js';
import { formatPath } from './problems.js';

export interface SourcedValue {
  value: Json;
  source: string;
}

/** The sources under `key`; under identity.<realm>, `key` may be an account name as maskConfig shows it. */
function subtreeOf(tree: SourceTree, key: string, path: readonly string[]): SourceTree | string | undefined {
  if (Object.prototype.hasOwnProperty.call(tree, key)) return tree[key];
  if (path.length !== 2 || path[0] !== 'identity') return undefined;
  const name = Object.keys(tree).find((candidate) => displayAccountName(candidate) === key);
  return name === undefined ? undefined : tree[name];
}

/**
 * Flattens a (masked) configuration into `path -> {value, source}`, one entry per leaf, like the
 * product console's "Config src" column. Arrays are leaves: a layer replaces them whole.
 */
export function listSources(config: JsonObject, sources: SourceTree): Record<string, SourcedValue> {
  const out: Record<string, SourcedValue> = {};
  const walk = (value: Json, tree: SourceTree | string | undefined, path: string[]): void => {
    if (isJsonObject(value) && typeof tree === 'object') {
      for (const [key, child] of Object.entries(value)) {
        walk(child, subtreeOf(tree, key, path), [...path, key]);
      }
      return;
    }
    setOwn(out, formatPath(path), { value, source: typeof tree === 'string' ? tree : 'default' });
  };
  walk(config, sources, []);
  return out;
}
