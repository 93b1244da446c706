/*
 * The most recent log lines, in memory, for the management console (GET /log, GET /log/stream,
 * the support package). Lines are taken as pino writes them, after its redaction: the ring never
 * holds more than the log does, nor lines the level in use does not write.
 */

/** The most lines kept; the oldest go first. */
export const LOG_RING_LINES = 1000;
/** A longer line is kept shortened: its level, time and the start of its message, marked `truncated`. */
export const LOG_LINE_MAX_BYTES = 8 * 1024;

export const LEVEL_VALUES = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type RingLevel = keyof typeof LEVEL_VALUES;

export interface RingLine {
  /** pino's numeric level. */
  readonly level: number;
  /** The JSON text of the line, without its newline. */
  readonly json: string;
  /** Counts the lines of this ring from 1: an event stream's `id`, so that a client reconnecting skips what it has. */
  readonly seq: number;
}

type Listener = (line: RingLine) => void;

const LEVEL_AT_START = /^\{"level":(\d+)/;

/** A line longer than LOG_LINE_MAX_BYTES, shortened (still one JSON object). */
function shortened(text: string): string {
  let parsed: Record<string, unknown> = {};
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null) parsed = value as Record<string, unknown>;
  } catch {
    // not JSON (a pretty line?): keep its start as the message
    parsed = { msg: text };
  }
  const msg = typeof parsed.msg === 'string' ? parsed.msg : '';
  // A character is at most 3 bytes in UTF-16-to-UTF-8 terms here: leave room for the rest of the object.
  const room = Math.floor((LOG_LINE_MAX_BYTES - 256) / 3);
  return JSON.stringify({ level: parsed.level, time: parsed.time, pid: parsed.pid, msg: msg.slice(0, room), truncated: true });
}

export class LogRing {
  readonly #lines: RingLine[] = [];
  readonly #listeners = new Set<Listener>();
  readonly #capacity: number;
  #seq = 0;

  constructor(capacity = LOG_RING_LINES) {
    this.#capacity = capacity;
  }

  /** One line as pino wrote it (a JSON object and a newline). */
  push(text: string): void {
    let json = text.endsWith('\n') ? text.slice(0, -1) : text;
    if (json === '') return;
    if (Buffer.byteLength(json) > LOG_LINE_MAX_BYTES) json = shortened(json);
    const level = Number(LEVEL_AT_START.exec(json)?.[1] ?? 30);
    const line: RingLine = { level, json, seq: ++this.#seq };
    this.#lines.push(line);
    if (this.#lines.length > this.#capacity) this.#lines.shift();
    for (const listener of this.#listeners) {
      try {
        listener(line);
      } catch {
        // a listener's trouble must not break logging
      }
    }
  }

  /** The last `limit` lines at `minLevel` or above (and after line `afterSeq`), oldest first. */
  recent(minLevel: number, limit: number = this.#capacity, afterSeq = 0): RingLine[] {
    const out: RingLine[] = [];
    // An id from before a restart of keepd (beyond this ring's count) skips nothing.
    if (afterSeq > this.#seq) afterSeq = 0;
    for (let i = this.#lines.length - 1; i >= 0 && out.length < limit; i--) {
      const line = this.#lines[i];
      if (!line || line.seq <= afterSeq) break;
      if (line.level >= minLevel) out.push(line);
    }
    return out.reverse();
  }

  /** Calls `listener` with every new line; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get size(): number {
    return this.#lines.length;
  }

  /** The number of the newest line (0: none yet): `GET /log` gives it, so a stream can start after it. */
  get lastSeq(): number {
    return this.#seq;
  }
}

/** This process's log: createLogger tees every line it writes into it. */
export const PROCESS_LOG_RING = new LogRing();

/** A pino destination writing to `destination` and into `ring`. */
export function teeToRing<T extends { write(chunk: string): unknown }>(destination: T, ring: LogRing): T {
  const write = (chunk: string): unknown => {
    ring.push(chunk);
    return destination.write(chunk);
  };
  // pino calls write() (and flushSync() when there is one): the rest of the stream is the destination's.
  return new Proxy(destination, {
    get(target, property): unknown {
      if (property === 'write') return write;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
