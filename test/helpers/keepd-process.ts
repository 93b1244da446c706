import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { after } from 'node:test';
import type { ListenerName } from '../../src/config/listener-table.js';
import { CLI } from './paths.js';

export interface LogLine {
  level: number;
  msg: string;
  listener?: string;
  port?: number;
  address?: string;
  scheme?: string;
  [key: string]: unknown;
}

/** A real `keepd start` child process, with its ports learned from its own log lines. */
export interface KeepdProcess {
  child: ChildProcessWithoutNullStreams;
  ports: Partial<Record<ListenerName, number>>;
  schemes: Partial<Record<ListenerName, string>>;
  /** Every JSON log line so far. */
  logs: LogLine[];
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or 128+signal) once the process has exited. */
  exited: Promise<number>;
  /** Waits until a log line matches. */
  waitForLog: (match: (line: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine>;
  stop: (signal?: NodeJS.Signals) => Promise<number>;
  /** Waits until stdout matches (for what the CLI prints besides log lines). */
  waitForStdout: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
}

/**
 * The line keepd logs when it starts watching its configuration (before its listeners bind, so it
 * is in `logs` once startKeepd resolves); a daemon without it has no watcher.
 */
export const startedWatching = (line: LogLine): boolean => /^watching .+ for configuration changes$/.test(line.msg);

/** Never leave a daemon behind, whatever a test did: all are killed once the test file is done. */
const running = new Set<ChildProcessWithoutNullStreams>();
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1 };

/** Spawns `keepd start --config-dir DIR` and resolves once `expect` listeners log that they listen. */
export async function startKeepd(
  configDir: string,
  options: { env?: Record<string, string>; expect?: number; args?: string[]; timeoutMs?: number } = {},
): Promise<KeepdProcess> {
  // The bundle as a program, as users run it (its shebang carries keepd's V8 flags).
  const child = spawn(CLI, ['start', '--config-dir', configDir, ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  const logs: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  const ports: KeepdProcess['ports'] = {};
  const schemes: KeepdProcess['schemes'] = {};
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const text of lines) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as LogLine;
      logs.push(line);
      if (line.listener && typeof line.port === 'number' && line.scheme) {
        ports[line.listener as ListenerName] = line.port;
        schemes[line.listener as ListenerName] = line.scheme;
      }
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code, signal]: unknown[]) =>
    typeof code === 'number' ? code : 128 + (SIGNALS[signal as NodeJS.Signals] ?? 0),
  );
  running.add(child);
  void exited.then(() => running.delete(child));

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such log line within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`)), timeoutMs);
      waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`keepd exited with ${code} before the expected log line; stdout:\n${stdout}\nstderr:\n${stderr}`));
      });
    });
  };

  const keepd: KeepdProcess = {
    child,
    ports,
    schemes,
    logs,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForLog,
    waitForStdout: async (pattern, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`stdout never matched ${String(pattern)}:\n${stdout}\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const expected = options.expect ?? 4;
  if (expected > 0) {
    // Checked after `ports` took the line in: resolves on the line that completes the set.
    await waitForLog(() => Object.keys(ports).length >= expected, options.timeoutMs ?? 15_000);
  }
  return keepd;
}

/** Runs `keepd start` expecting it to fail; resolves with its exit code and output. */
export async function failedStart(configDir: string, env: Record<string, string> = {}): Promise<{ code: number; stderr: string; stdout: string }> {
  const keepd = await startKeepd(configDir, { env, expect: 0 });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<number>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`keepd did not exit; stdout:\n${keepd.stdout()}`)), 15_000);
  });
  const code = await Promise.race([keepd.exited, timeout]).finally(() => clearTimeout(timer));
  return { code, stderr: keepd.stderr(), stdout: keepd.stdout() };
}
