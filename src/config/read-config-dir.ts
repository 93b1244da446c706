import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Layer } from './merge.js';
import { parseConfigText } from './parse-config-text.js';
import { describeFsError, errorCode } from '../support/errors.js';
import type { ConfigProblem } from './problems.js';

/**
 * Which directory entries are configuration: names ending in `.json` that do not start with a dot
 * (`.#x.json` is an Emacs lock, `.x.json.swp` a Vim swap file). `x.json~` and `x.json.example`
 * do not end in `.json`. Kubernetes' `..data` and friends start with a dot.
 */
export function isConfigFileName(name: string): boolean {
  return name.endsWith('.json') && !name.startsWith('.');
}

/** Byte order of UTF-16 code units, like Java's String.compareTo: "Z.json" sorts before "a.json". */
export function compareFileNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface DirectoryLayers {
  layers: Layer[];
  files: string[];
  problems: ConfigProblem[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

async function readLayer(directory: string, name: string): Promise<{ layer?: Layer; problem?: ConfigProblem }> {
  const file = path.join(directory, name);
  let bytes: Buffer;
  try {
    // stat follows symlinks: a Kubernetes ConfigMap entry is a symlink to a regular file.
    if (!(await stat(file)).isFile()) return {};
    bytes = await readFile(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return {}; // deleted between readdir and read, or a dangling link
    return { problem: { source: name, message: `cannot read ${file}: ${describeFsError(error)}` } };
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { problem: { source: name, message: 'the file is not valid UTF-8; save it as UTF-8' } };
  }
  const parsed = parseConfigText(text, name);
  return parsed.ok ? { layer: { source: name, data: parsed.data } } : { problem: parsed.problem };
}

/** Every configuration file of the directory, in the order they are merged. */
export async function readConfigDir(directory: string): Promise<DirectoryLayers> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter(isConfigFileName).sort(compareFileNames);
  } catch (error) {
    return {
      layers: [],
      files: [],
      problems: [{ source: directory, message: `cannot read the configuration directory: ${describeFsError(error)}` }],
    };
  }
  const results = await Promise.all(names.map((name) => readLayer(directory, name)));
  const layers: Layer[] = [];
  const problems: ConfigProblem[] = [];
  for (const result of results) {
    if (result.layer) layers.push(result.layer);
    if (result.problem) problems.push(result.problem);
  }
  return { layers, files: layers.map((layer) => layer.source), problems };
}
