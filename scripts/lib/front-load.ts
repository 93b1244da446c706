/**
 * The load generators of scripts/bench-front.ts: h2load (nghttp2-client) over HTTP/2 and, with
 * `--h1`, over HTTP/1.1 keep-alive, and wrk; their outputs parsed into one shape, and a process's
 * CPU time from /proc (keepd's CPU per request).
 */
import { readFile, rm } from 'node:fs/promises';
import { parseWrk, run } from './measure-tools.js';

/** One load run: requests/s, p99 ms, requests done, and why it does not count (empty when it does). */
export interface LoadResult {
  rps: number;
  p99: number;
  requests: number;
  /** Set when the run must not be counted: a non-2xx answer, an error, a reset, another protocol. */
  failure: string;
  /** Worth knowing, without failing the run (wrk's socket errors at the end of a run). */
  note: string;
}

export interface H2loadSummary {
  rps: number;
  protocol: string;
  total: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
}

/** h2load's "finished in ..., N req/s", its request counts, status codes and the ALPN protocol it got. */
export function parseH2load(output: string): H2loadSummary {
  const requests = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(output);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  const n = (value: string | undefined): number => Number(value ?? NaN);
  return {
    rps: Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(output)?.[1] ?? NaN),
    protocol: /Application protocol: (\S+)/.exec(output)?.[1] ?? 'none',
    total: n(requests?.[1]),
    succeeded: n(requests?.[2]),
    failed: n(requests?.[3]),
    errored: n(requests?.[4]),
    timeout: n(requests?.[5]),
    status: { '2xx': n(codes?.[1]), '3xx': n(codes?.[2]), '4xx': n(codes?.[3]), '5xx': n(codes?.[4]) },
  };
}

/** The 99th percentile (ms) of h2load's --log-file (start µs, status, µs to the end of the response). */
export function p99FromLog(log: string): number {
  const times = log
    .split('\n')
    .map((line) => Number(line.split('\t')[2]))
    .filter((value) => Number.isFinite(value))
    .sort((a, b) => a - b);
  return times.length === 0 ? NaN : (times[Math.min(times.length - 1, Math.floor(0.99 * times.length))] ?? NaN) / 1000;
}

/** Why an h2load run does not count, or '' when it does. */
export function h2loadFailure(summary: H2loadSummary, protocol: 'h2' | 'http/1.1'): string {
  if (summary.protocol !== protocol) return `negotiated ${summary.protocol}, not ${protocol}`;
  if (!Number.isFinite(summary.rps) || !Number.isFinite(summary.total)) return 'no result';
  const non2xx = summary.status['3xx'] + summary.status['4xx'] + summary.status['5xx'];
  const problems = [
    non2xx > 0 ? `${non2xx} non-2xx (${summary.status['3xx']} 3xx, ${summary.status['4xx']} 4xx, ${summary.status['5xx']} 5xx)` : '',
    summary.failed > 0 ? `${summary.failed} failed` : '',
    summary.errored > 0 ? `${summary.errored} errored` : '',
    summary.timeout > 0 ? `${summary.timeout} timed out` : '',
  ].filter(Boolean);
  return problems.join(', ');
}

export interface H2loadOptions {
  url: string;
  authorization: string;
  seconds: number;
  connections: number;
  /** Streams at once per connection (h2 only). */
  streams: number;
  h1: boolean;
  /** Where h2load writes its per-request log (for the p99); removed after. */
  logFile: string;
  /** The command prefix (taskset). */
  wrap: (command: string, args: string[]) => [string, string[]];
}

export async function h2load(options: H2loadOptions): Promise<LoadResult & { summary: H2loadSummary; output: string }> {
  const args = ['-t', '1', '-c', String(options.connections), ...(options.h1 ? ['--h1'] : ['-m', String(options.streams)]), '-D', String(options.seconds), '-H', `authorization: ${options.authorization}`, '--log-file', options.logFile, options.url];
  const [command, wrapped] = options.wrap('h2load', args);
  const { output } = await run(command, wrapped);
  const summary = parseH2load(output);
  const p99 = p99FromLog(await readFile(options.logFile, 'utf8').catch(() => ''));
  await rm(options.logFile, { force: true });
  return { rps: summary.rps, p99, requests: summary.succeeded, failure: h2loadFailure(summary, options.h1 ? 'http/1.1' : 'h2'), note: '', summary, output };
}

/** wrk's keep-alive run, as bench.ts measures it (one thread, `connections` connections). */
export async function wrk(url: string, authorization: string, seconds: number, connections: number, wrap: (command: string, args: string[]) => [string, string[]]): Promise<LoadResult> {
  const [command, args] = wrap('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-H', `Authorization: ${authorization}`, url]);
  const { output } = await run(command, args);
  const parsed = parseWrk(output);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socketErrors = /Socket errors:.*/.exec(output)?.[0] ?? '';
  return {
    rps: parsed.rps,
    p99: parsed.p99,
    requests: Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN),
    failure: non2xx > 0 ? `${non2xx} non-2xx or 3xx` : Number.isFinite(parsed.rps) ? '' : 'no result',
    note: socketErrors,
  };
}

/** A process's user + system CPU time in seconds (/proc/PID/stat; clock ticks at 100 Hz). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
