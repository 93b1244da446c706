import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/scripts/lib. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'keepd.mjs');
export const TLS_FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'tls');

export interface RunningKeepd {
  child: ChildProcessWithoutNullStreams;
  ports: Record<string, number>;
  stop: () => Promise<void>;
}

/** Starts `keepd start` on a directory and resolves with its ports once `expect` listeners are up. */
export function spawnKeepd(configDir: string, expect = 4, args: string[] = []): Promise<RunningKeepd> {
  const child = spawn(CLI, ['start', '--config-dir', configDir, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
  const ports: Record<string, number> = {};
  let pending = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`keepd exited with ${String(code)}: ${stderr}`)));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { listener?: string; port?: number; scheme?: string };
        if (entry.listener && typeof entry.port === 'number' && entry.scheme) ports[entry.listener] = entry.port;
      }
      if (Object.keys(ports).length >= expect) resolve({ child, ports, stop });
    });
  });
}

export function summarize(samples: number[]): { n: number; min: number; median: number; p90: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { n: sorted.length, min: sorted[0] ?? NaN, median: at(0.5), p90: at(0.9), max: sorted[sorted.length - 1] ?? NaN };
}
