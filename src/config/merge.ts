import { cloneJson, getOwn, isJsonObject, setOwn, type Json, type JsonObject } from './json.js';

/** One layer of configuration: the defaults, one file, or the environment. */
export interface Layer {
  /** Label for provenance: `default`, a file name, `env`. */
  source: string;
  data: JsonObject;
  /** Per top-level key label, when one layer has several origins (each env variable, an alias). */
  keySources?: Readonly<Record<string, string>>;
}

/** Mirrors the configuration: every leaf holds the label of the layer that set it. */
export interface SourceTree {
  [key: string]: SourceTree | string;
}

export interface Merged {
  config: JsonObject;
  sources: SourceTree;
}

function sourcesFor(value: Json, label: string): SourceTree | string {
  // An object without keys is a leaf of its own: it has a source too (`"PORT": {}` is the file's mistake).
  if (!isJsonObject(value) || Object.keys(value).length === 0) return label;
  const tree: SourceTree = {};
  for (const [key, child] of Object.entries(value)) setOwn(tree, key, sourcesFor(child, label));
  return tree;
}

function mergeObject(target: JsonObject, sources: SourceTree, layer: JsonObject, labelOf: (key: string) => string): void {
  for (const [key, value] of Object.entries(layer)) {
    const existing = getOwn(target, key);
    const existingSources = Object.prototype.hasOwnProperty.call(sources, key) ? sources[key] : undefined;
    if (isJsonObject(value) && isJsonObject(existing) && typeof existingSources === 'object') {
      const label = labelOf(key);
      mergeObject(existing, existingSources, value, () => label);
    } else {
      setOwn(target, key, cloneJson(value));
      setOwn(sources, key, sourcesFor(value, labelOf(key)));
    }
  }
}

/**
 * The product's merge rules: layers in order, later wins; objects merge key by key, recursively;
 * arrays and scalars are replaced whole; a later layer can add or replace, never delete.
 * Inputs are not modified.
 */
export function mergeLayers(layers: readonly Layer[]): Merged {
  const config: JsonObject = {};
  const sources: SourceTree = {};
  for (const layer of layers) {
    const keySources = layer.keySources ?? {};
    mergeObject(config, sources, layer.data, (key) =>
      Object.prototype.hasOwnProperty.call(keySources, key) ? (keySources[key] ?? layer.source) : layer.source,
    );
  }
  return { config, sources };
}

/** Every distinct label at or under a path (a leaf gives one; a subtree all of its leaves'). */
export function sourcesAt(sources: SourceTree, path: readonly (string | number)[]): string[] {
  let node: SourceTree | string = sources;
  for (const step of path) {
    if (typeof node === 'string') return [node];
    const key = String(step);
    const next: SourceTree | string | undefined = Object.prototype.hasOwnProperty.call(node, key) ? node[key] : undefined;
    if (next === undefined) {
      if (node === sources) return [];
      break;
    }
    node = next;
  }
  const found = new Set<string>();
  const collect = (n: SourceTree | string): void => {
    if (typeof n === 'string') found.add(n);
    else for (const child of Object.values(n)) collect(child);
  };
  collect(node);
  return [...found];
}
