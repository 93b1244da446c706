import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from '../support/errors.js';

/*
 * Reading a file that an admin (or a mount) put in keepd's way, without letting it take keepd down:
 *
 * - only regular files are opened (a FIFO, a socket or a device could block or never end); the
 *   type is checked with stat before opening and again with fstat on the handle, so a file swapped
 *   in between is caught too; the open itself is non-blocking (O_NONBLOCK) and never takes a
 *   terminal (O_NOCTTY);
 * - a size limit, checked before reading (and while reading, for a file that grows);
 * - a deadline over the whole operation: a hung network mount blocks a libuv thread, not keepd.
 *   The stuck operation is remembered per path: while it is pending, reading that path fails at
 *   once with the same answer instead of queueing another stuck operation on the libuv pool; and
 *   once MAX_STUCK_OPERATIONS are stuck, nothing new is started (the pool has 4 threads, and
 *   password verification needs them).
 *
 * Failures are values with a kind and the details, so that each caller words them for its readers
 * (describeReadFailure gives the default wording).
 */

/** What a path is when it is not a regular file, as an admin would say it. */
export type FileType = 'directory' | 'FIFO (named pipe)' | 'socket' | 'character device' | 'block device' | 'special file';

export type ReadFailure =
  /**
   * Nothing there. `danglingLink`: the name is a symbolic link (or a chain of them), and
   * `missingTarget` is the path along the chain that does not exist; without it, the name itself
   * is gone (deleted after it was listed, say).
   */
  | { kind: 'missing'; file: string; danglingLink?: { missingTarget: string } }
  | { kind: 'not-regular'; file: string; type: FileType }
  /** `size`: what stat said; `grew`: the file grew past the limit while read (size is then a lower bound). */
  | { kind: 'too-large'; file: string; size: number; maxBytes: number; grew?: true }
  /**
   * Not done within deadlineMs. `state`: 'timed-out' this time; 'still-pending' when an earlier
   * operation on the same path is still stuck (none was started); 'too-many-stuck' when
   * MAX_STUCK_OPERATIONS others are (`stuck` names them; none was started).
   */
  | { kind: 'timeout'; file: string; deadlineMs: number; state: 'timed-out' | 'still-pending' | 'too-many-stuck'; stuck?: string[] }
  /** Any other error of the file system: `code` is the errno name (EACCES, ELOOP, EIO...) or ''. */
  | { kind: 'io'; file: string; code: string; cause: unknown };

export type ReadResult = { ok: true; bytes: Buffer } | { ok: false; failure: ReadFailure };

export interface ReadLimits {
  /** Larger files are refused before reading. */
  maxBytes: number;
  /** The whole operation (stat, open, read, close) must finish within this. */
  deadlineMs: number;
}

/** Operations stuck past their deadline, at most, before no new one is started. */
export const MAX_STUCK_OPERATIONS = 2;

/** The file system calls used, replaceable for tests (a hung mount cannot be made on demand). */
export interface FileSystemCalls {
  stat: (file: string) => Promise<Stats>;
  lstat: (file: string) => Promise<Stats>;
  readlink: (file: string) => Promise<string>;
  open: (file: string, flags: number) => Promise<Pick<FileHandle, 'stat' | 'read' | 'close'>>;
  readdir: (directory: string) => Promise<string[]>;
}

const NODE_FS: FileSystemCalls = { stat, lstat, readlink, open, readdir: (directory) => readdir(directory) };

// O_NONBLOCK and O_NOCTTY do not exist on Windows (where nothing can block an open this way).
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK as number | undefined ?? 0) | (constants.O_NOCTTY as number | undefined ?? 0);

/** Hops followed when explaining a dangling link (Linux gives up at 40 too: ELOOP). */
export const MAX_LINK_HOPS = 40;

function fileTypeOf(stats: Stats): FileType {
  if (stats.isDirectory()) return 'directory';
  if (stats.isFIFO()) return 'FIFO (named pipe)';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice()) return 'character device';
  if (stats.isBlockDevice()) return 'block device';
  return 'special file';
}

function ioFailure(file: string, error: unknown): ReadFailure {
  return { kind: 'io', file, code: errorCode(error), cause: error };
}

/** Tells a deleted file from a dangling link: follows the chain to the first path that is not there. */
async function explainMissing(fs: FileSystemCalls, file: string): Promise<ReadFailure | 'exists'> {
  let current = file;
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    let stats: Stats;
    try {
      stats = await fs.lstat(current);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT' && errorCode(error) !== 'ENOTDIR') return ioFailure(file, error);
      return hop === 0 ? { kind: 'missing', file } : { kind: 'missing', file, danglingLink: { missingTarget: current } };
    }
    // The chain leads somewhere now: the name or its target was re-created since (a save by
    // delete and create); worth another try.
    if (!stats.isSymbolicLink()) return 'exists';
    try {
      current = path.resolve(path.dirname(current), await fs.readlink(current));
    } catch (error) {
      return ioFailure(file, error);
    }
  }
  return { kind: 'io', file, code: 'ELOOP', cause: Object.assign(new Error('too many levels of symbolic links'), { code: 'ELOOP' }) };
}

/** Reads at most maxBytes + 1 bytes from a handle: a file that grew past the limit is caught too. */
async function readAll(handle: Pick<FileHandle, 'read'>, sizeHint: number, maxBytes: number): Promise<Buffer | undefined> {
  let buffer = Buffer.alloc(Math.min(sizeHint, maxBytes) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > maxBytes) return undefined;
      const bigger = Buffer.alloc(Math.min(maxBytes + 1, buffer.length * 2));
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
    if (bytesRead === 0) return buffer.subarray(0, length);
    length += bytesRead;
  }
}

/** Set once the caller stopped waiting: the operation then ends at its next step. */
class Abandoned {
  #value = false;
  set(): void {
    this.#value = true;
  }
  /** A method, not a field: it changes while the operation awaits. */
  now(): boolean {
    return this.#value;
  }
}

/** What an abandoned operation ends with: nobody reads it (the caller already had its answer). */
const ABANDONED: ReadResult = { ok: false, failure: { kind: 'io', file: '', code: 'ECANCELED', cause: undefined } };

async function readOnce(fs: FileSystemCalls, file: string, maxBytes: number, abandoned: Abandoned): Promise<ReadResult | 'retry'> {
  let stats: Stats;
  try {
    stats = await fs.stat(file);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT' && errorCode(error) !== 'ENOTDIR') return { ok: false, failure: ioFailure(file, error) };
    const missing = await explainMissing(fs, file);
    return missing === 'exists' ? 'retry' : { ok: false, failure: missing };
  }
  // Checked before opening: opening a FIFO or a device can block, or have effects (a tape rewinds).
  if (!stats.isFile()) return { ok: false, failure: { kind: 'not-regular', file, type: fileTypeOf(stats) } };
  if (stats.size > maxBytes) return { ok: false, failure: { kind: 'too-large', file, size: stats.size, maxBytes } };
  if (abandoned.now()) return ABANDONED;
  let handle: Pick<FileHandle, 'stat' | 'read' | 'close'>;
  try {
    handle = await fs.open(file, OPEN_FLAGS);
  } catch (error) {
    return errorCode(error) === 'ENOENT' ? 'retry' : { ok: false, failure: ioFailure(file, error) };
  }
  try {
    if (abandoned.now()) return ABANDONED;
    // The handle's own type and size: the name may point elsewhere since the stat above.
    const opened = await handle.stat();
    if (!opened.isFile()) return { ok: false, failure: { kind: 'not-regular', file, type: fileTypeOf(opened) } };
    if (opened.size > maxBytes) return { ok: false, failure: { kind: 'too-large', file, size: opened.size, maxBytes } };
    if (abandoned.now()) return ABANDONED;
    const bytes = await readAll(handle, opened.size, maxBytes);
    if (bytes === undefined) return { ok: false, failure: { kind: 'too-large', file, size: Math.max(opened.size, maxBytes + 1), maxBytes, grew: true } };
    return { ok: true, bytes };
  } catch (error) {
    return { ok: false, failure: ioFailure(file, error) };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

type Deadlined<T> = { done: true; value: T } | { done: false; failure: ReadFailure };

/**
 * Reads regular files (and lists directories) with a size limit and a deadline; see the top of
 * this file. One reader per process is the point (its memory of stuck operations): use the
 * functions exported below; make others only in tests.
 */
export class SafeReader {
  readonly #fs: FileSystemCalls;
  /** Operations past their deadline and not finished yet, by path. */
  readonly #stuck = new Map<string, Promise<unknown>>();

  constructor(fs: FileSystemCalls = NODE_FS) {
    this.#fs = fs;
  }

  /** Paths whose operation missed its deadline and has not finished yet. */
  stuckPaths(): string[] {
    return [...this.#stuck.keys()];
  }

  /** At most MAX_STUCK_OPERATIONS operations in flight: started together, they could all hang. */
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  #acquire(): Promise<void> {
    if (this.#running < MAX_STUCK_OPERATIONS) {
      this.#running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }

  /**
   * Runs `work` (which must not reject) for `file` within the deadline, or says why not. The
   * deadline counts from the call: time spent waiting for one of the few slots counts too.
   */
  async #withDeadline<T>(file: string, deadlineMs: number, work: (abandoned: Abandoned) => Promise<T>): Promise<Deadlined<T>> {
    const key = path.resolve(file);
    if (this.#stuck.has(key)) return { done: false, failure: { kind: 'timeout', file, deadlineMs, state: 'still-pending' } };
    if (this.#stuck.size >= MAX_STUCK_OPERATIONS) {
      return { done: false, failure: { kind: 'timeout', file, deadlineMs, state: 'too-many-stuck', stuck: this.stuckPaths() } };
    }
    const abandoned = new Abandoned();
    const progress = { started: false };
    const operation = this.#acquire().then(async (): Promise<{ value: T } | 'skipped'> => {
      try {
        if (abandoned.now()) return 'skipped'; // its deadline passed while it waited for a slot
        progress.started = true;
        return { value: await work(abandoned) };
      } finally {
        this.#release();
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), deadlineMs)));
    const first = await Promise.race([operation, expired]);
    clearTimeout(timer);
    if (first !== 'expired' && first !== 'skipped') return { done: true, value: first.value };
    abandoned.set();
    if (!progress.started) return { done: false, failure: { kind: 'timeout', file, deadlineMs, state: 'too-many-stuck', stuck: this.stuckPaths() } };
    this.#stuck.set(key, operation);
    void operation.then(() => this.#stuck.delete(key), () => this.#stuck.delete(key));
    return { done: false, failure: { kind: 'timeout', file, deadlineMs, state: 'timed-out' } };
  }

  /**
   * The bytes of a regular file (or a symbolic link to one), at most `maxBytes` of them, read
   * within `deadlineMs`; otherwise why not. Never rejects.
   */
  async readRegularFile(file: string, limits: ReadLimits): Promise<ReadResult> {
    const outcome = await this.#withDeadline(file, limits.deadlineMs, async (abandoned) => {
      // One more try when the name vanished and came back between two calls (a save by delete
      // and create); a second miss is what it is.
      try {
        const first = await readOnce(this.#fs, file, limits.maxBytes, abandoned);
        if (first !== 'retry') return first;
        const second = await readOnce(this.#fs, file, limits.maxBytes, abandoned);
        return second === 'retry' ? ({ ok: false, failure: { kind: 'missing', file } } satisfies ReadResult) : second;
      } catch (error) {
        return { ok: false, failure: ioFailure(file, error) } satisfies ReadResult;
      }
    });
    if (!outcome.done) return { ok: false, failure: outcome.failure };
    return outcome.value;
  }

  /** The names in a directory, listed within `deadlineMs` (a hung mount blocks readdir too). */
  async listDirectory(directory: string, deadlineMs: number): Promise<{ ok: true; names: string[] } | { ok: false; failure: ReadFailure }> {
    const outcome = await this.#withDeadline(directory, deadlineMs, async () => {
      try {
        return { ok: true as const, names: await this.#fs.readdir(directory) };
      } catch (error) {
        return { ok: false as const, failure: ioFailure(directory, error) };
      }
    });
    return outcome.done ? outcome.value : { ok: false, failure: outcome.failure };
  }
}

const reader = new SafeReader();

/** See SafeReader.readRegularFile; shared by every caller in the process. */
export function readRegularFile(file: string, limits: ReadLimits): Promise<ReadResult> {
  return reader.readRegularFile(file, limits);
}

/** See SafeReader.listDirectory; shared by every caller in the process. */
export function listDirectory(directory: string, deadlineMs: number): ReturnType<SafeReader['listDirectory']> {
  return reader.listDirectory(directory, deadlineMs);
}

