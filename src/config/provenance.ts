import { isJsonObject, setOwn, type Json, type JsonObject } from './json.js';
import type { SourceTree } from './merge.js';
import { formatPath } from './problems.js';

export interface SourcedValue {
  value: Json;
  source: string;
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
        const subtree = Object.prototype.hasOwnProperty.call(tree, key) ? tree[key] : undefined;
        walk(child, subtree, [...path, key]);
      }
      return;
    }
    setOwn(out, formatPath(path), { value, source: typeof tree === 'string' ? tree : 'default' });
  };
  walk(config, sources, []);
  return out;
}
