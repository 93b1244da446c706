import path from 'node:path';
import type { Layer } from './merge.js';
import { parseConfigText } from './parse-config-text.js';
import { describeFsError } from '../support/errors.js';
import type { ConfigProblem } from './problems.js';
import { describeReadFailure, formatSeconds, formatSize } from './read-failure.js';
import { listDirectory, readRegularFile, type ReadFailure } from './safe-read.js';

/**
 * Largest configuration file read: 1 MiB. Real keepconfig.d files are a few kB; an account takes
 * 230 to 270 bytes, so even 4,000 accounts fit in one file. A larger file is something else (a
 * log, a data dump) saved under a .json name. Refused before reading: 50 MB ran keepd out of
 * memory (its heap is 256 MB), and within 1 MiB the worst case is refused or loaded in well under
 * a second (see MAX_VALUES_PER_FILE).
 */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/**
 * How long reading one configuration file (or listing the directory) may take: 2 s. A local or
 * healthy network file system answers in milliseconds; a hung mount would otherwise block keepd's
 * start, and every reload after, for good.
 */
export const CONFIG_READ_DEADLINE_MS = 2000;

/**
 * What one load reads at most, all files together: 128 files, 8 MiB, 100,000 values (about 25,000
 * accounts). Each file within its own limits, 120 of them ran keepd (heap 256 MB) out of memory.
 */
export const MAX_CONFIG_FILES = 128;
export const MAX_TOTAL_BYTES = 8 * 1024 * 1024;
export const MAX_TOTAL_VALUES = 100_000;

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

/** A read failure of a configuration file as a problem, or undefined when the file is simply gone. */
function readProblem(name: string, failure: ReadFailure): ConfigProblem | undefined {
  switch (failure.kind) {
    case 'missing':
      // Deleted since it was listed: absent, as if listed a moment later. A link that leads
      // nowhere is a mistake (a ConfigMap or a target moved away): said, never skipped.
      return failure.danglingLink ? { source: name, message: describeReadFailure(failure, name) } : undefined;
    case 'not-regular':
      // A directory named x.json is not a configuration file: ignored, as before. A FIFO, a
      // socket or a device is a mistake, and reading it could block: said, never opened.
      if (failure.type === 'directory') return undefined;
      return { source: name, message: `${describeReadFailure(failure, name)}: keepd reads only regular files (or symbolic links to them)` };
    case 'too-large':
      return {
        source: name,
        message: `${describeReadFailure(failure, name)} (configuration files are a few kB; is this the right file?)`,
      };
    case 'timeout':
    case 'io':
      return { source: name, message: describeReadFailure(failure, name) };
  }
}

async function readLayer(directory: string, name: string): Promise<{ layer?: Layer; problems?: ConfigProblem[]; bytes?: number; values?: number }> {
  const file = path.join(directory, name);
  // Follows symlinks: a Kubernetes ConfigMap entry is a symlink to a regular file.
  const read = await readRegularFile(file, { maxBytes: MAX_CONFIG_FILE_BYTES, deadlineMs: CONFIG_READ_DEADLINE_MS });
  if (!read.ok) {
    const problem = readProblem(name, read.failure);
    return problem ? { problems: [problem] } : {};
  }
  let text: string;
  try {
    text = utf8.decode(read.bytes);
  } catch {
    return { problems: [{ source: name, message: 'the file is not valid UTF-8; save it as UTF-8' }] };
  }
  const parsed = parseConfigText(text, name);
  return parsed.ok ? { layer: { source: name, data: parsed.data }, bytes: read.bytes.length, values: parsed.values } : { problems: parsed.problems };
}

/** Every configuration file of the directory, in the order they are merged. */
export async function readConfigDir(directory: string): Promise<DirectoryLayers> {
  const listing = await listDirectory(directory, CONFIG_READ_DEADLINE_MS);
  if (!listing.ok) {
    const { failure } = listing;
    const why =
      failure.kind === 'timeout' && failure.state !== 'too-many-stuck'
        ? `listing it did not finish within ${formatSeconds(failure.deadlineMs)} (a hung network mount?)`
        : failure.kind === 'io'
          ? describeFsError(failure.cause)
          : describeReadFailure(failure);
    return { layers: [], files: [], problems: [{ source: directory, message: `cannot read the configuration directory: ${why}` }] };
  }
  const names = listing.names.filter(isConfigFileName).sort(compareFileNames);
  if (names.length > MAX_CONFIG_FILES) {
    const message = `holds ${names.length} *.json files, more than the ${MAX_CONFIG_FILES} one load reads: is this the configuration directory? Move the rest elsewhere (or rename them, e.g. to *.json.example)`;
    return { layers: [], files: [], problems: [{ source: directory, message }] };
  }
  // One file after the other, counting: the totals stop a load before it exhausts memory.
  const layers: Layer[] = [];
  const problems: ConfigProblem[] = [];
  const total = { bytes: 0, values: 0 };
  for (const name of names) {
    const result = await readLayer(directory, name);
    if (result.problems) problems.push(...result.problems);
    if (!result.layer) continue;
    total.bytes += result.bytes ?? 0;
    total.values += result.values ?? 0;
    if (total.bytes > MAX_TOTAL_BYTES || total.values > MAX_TOTAL_VALUES) {
      const what = total.bytes > MAX_TOTAL_BYTES ? `${formatSize(total.bytes)} (the limit is ${formatSize(MAX_TOTAL_BYTES)})` : `${total.values.toLocaleString('en-US')} values (the limit is ${MAX_TOTAL_VALUES.toLocaleString('en-US')})`;
      problems.push({ source: name, message: `with this file the configuration holds ${what}, more than one load reads: keepd's own settings are a few hundred values; remove what is not configuration` });
      break;
    }
    layers.push(result.layer);
  }
  return { layers, files: layers.map((layer) => layer.source), problems };
}
