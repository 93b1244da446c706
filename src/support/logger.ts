import { pino, type Logger } from 'pino';
import { PROCESS_LOG_RING, teeToRing, type LogRing } from './log-ring.js';

/**
 * Never log credentials: whatever a request or an error object carries, these paths are censored
 * before a line is written.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'request.headers.authorization',
  'request.headers["proxy-authorization"]',
  '*.headers.authorization',
  // Sessions and keys travel in these too: the product's LtpaToken and JWT cookies, API keys.
  'request.headers["cookie"]',
  'req.headers["cookie"]',
  '*.headers["cookie"]',
  'request.headers["set-cookie"]',
  'req.headers["set-cookie"]',
  '*.headers["set-cookie"]',
  'request.headers["x-api-key"]',
  'req.headers["x-api-key"]',
  '*.headers["x-api-key"]',
  'request.headers["x-auth-token"]',
  'req.headers["x-auth-token"]',
  '*.headers["x-auth-token"]',
  'request.headers["x-csrf-token"]',
  'req.headers["x-csrf-token"]',
  '*.headers["x-csrf-token"]',
  'request.headers["x-xsrf-token"]',
  'req.headers["x-xsrf-token"]',
  '*.headers["x-xsrf-token"]',
  'headers.authorization',
  'authorization',
  'password',
  'secret',
  'shutdownkey',
  'guess',
  'TLSPassword',
  '*.password',
  '*.secret',
  '*.shutdownkey',
  '*.guess',
  '*.TLSPassword',
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable lines (a terminal) instead of JSON (files, journald, collectors). */
  pretty: boolean;
  destination?: NodeJS.WritableStream;
  /** Where the lines written are kept too (GET /log): this process's ring unless told. */
  ring?: LogRing;
}

/**
 * Errors as pino writes them, without the raw bytes of a request: Node's HTTP parser attaches the
 * packet it choked on (`rawPacket`, Authorization header included) to a client error, and Fastify
 * logs that error at trace level. A Buffer under any other name goes too.
 */
export function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const raw = (key: string, value: unknown): boolean => key === 'rawPacket' || value instanceof Uint8Array;
  return Object.fromEntries(Object.entries(pino.stdSerializers.err(error)).filter(([key, value]) => !raw(key, value)));
}

export async function createLogger(options: LoggerOptions): Promise<Logger> {
  const base = {
    level: options.level,
    base: { pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError },
  };
  const ring = options.ring ?? PROCESS_LOG_RING;
  if (options.pretty) {
    // Loaded only for a terminal: services log JSON and should not pay for it at start-up.
    const { default: pretty } = await import('pino-pretty');
    // The ring takes the JSON line (after redaction), before pino-pretty formats it.
    return pino(base, teeToRing(pretty({ colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }), ring));
  }
  // Synchronous writes keep log lines in order with what the CLI prints on stdout.
  return pino(base, teeToRing(options.destination ?? pino.destination({ dest: 1, sync: true }), ring));
}

const RANK: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** Whether a logger at its current level writes lines of `level` (cheaper than building them). */
export function logs(logger: { level: string }, level: 'trace' | 'debug'): boolean {
  return (RANK[logger.level] ?? 30) <= (RANK[level] ?? 30);
}

/** A request target as the log shows it: the path, and each query parameter's name only (values may be tokens). */
export function maskQuery(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const names = url.slice(at + 1).split('&').map((pair) => `${pair.split('=')[0] ?? ''}=[redacted]`);
  return `${url.slice(0, at)}?${names.join('&')}`;
}
