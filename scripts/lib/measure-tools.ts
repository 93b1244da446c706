import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Runs a command, resolving with its stdout+stderr and wall time. */
export function run(command: string, args: string[], options: { input?: string } = {}): Promise<{ output: string; code: number | null; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ output, code, seconds: (performance.now() - started) / 1000 }));
    child.stdin.end(options.input ?? '');
  });
}

export function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** Prefix that pins a command to one CPU core, when taskset exists and there are cores to spare. */
export function pinned(core: number, available: boolean): (command: string, args: string[]) => [string, string[]] {
  return (command, args) => (available ? ['taskset', ['-c', String(core), command, ...args]] : [command, args]);
}

function milliseconds(value: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!match) return NaN;
  const number = Number(match[1]);
  return match[2] === 'us' ? number / 1000 : match[2] === 's' ? number * 1000 : number;
}

/** wrk's requests/s and 99th percentile latency (ms), from `wrk --latency`. */
export function parseWrk(output: string): { rps: number; p99: number; errors: string } {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  const p99 = milliseconds(/^\s+99%\s+(\S+)/m.exec(output)?.[1] ?? '');
  const errors = /Socket errors:.*|Non-2xx or 3xx responses: \d+/.exec(output)?.[0] ?? '';
  return { rps, p99, errors };
}

export function parseAb(output: string): { rps: number; failed: number; non2xx: number } {
  return {
    rps: Number(/Requests per second:\s+([\d.]+)/.exec(output)?.[1] ?? NaN),
    failed: Number(/Failed requests:\s+(\d+)/.exec(output)?.[1] ?? 0),
    non2xx: Number(/Non-2xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0),
  };
}

/** Connections counted by `openssl s_time`. */
export function parseSTime(output: string): number {
  return Number(/(\d+) connections in [\d.]+ real seconds/.exec(output)?.[1] ?? NaN);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

export function spread(values: number[]): string {
  if (values.length < 2) return '';
  const m = median(values);
  return `±${((Math.max(...values.map((v) => Math.abs(v - m))) / m) * 100).toFixed(0)}%`;
}

/** SIGTERM, then resolves once the process has exited (at once if it already has). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
