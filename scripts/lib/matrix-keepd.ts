import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSecret } from '../../src/accounts/secret.js';
import { CLI, TLS_FIXTURES } from './spawn-keepd.js';

/** What the fault matrix runs keepd with: loopback, free ports, the test certificate, one account per realm. */
export const ACCOUNTS = {
  health: ['probe', 'probe-password-1'],
  management: ['admin', 'admin-password-2'],
  metrics: ['prometheus', 'metrics-password-3'],
  data: ['John Doe', 'data-password-4'],
} as const;
const REALM = { health: 'healthcheckAPI', management: 'managementAPI', metrics: 'metricsAPI', data: 'singleDbModeUsers' } as const;
export type Listener = keyof typeof ACCOUNTS;

export const CA = await readFile(path.join(TLS_FIXTURES, 'ca.cert.pem'));

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A configuration directory with keepd's base files; `extra` files are added (objects as JSON). */
export async function configDir(extra: Record<string, string | object> = {}, base: object = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepd-matrix-'));
  const identity: Record<string, Record<string, { active: boolean; secret: string }>> = {};
  for (const [listener, [user, password]] of Object.entries(ACCOUNTS)) identity[REALM[listener as Listener]] = { [user]: { active: true, secret: await createSecret(password) } };
  await copyFile(path.join(TLS_FIXTURES, 'server.key.pem'), path.join(dir, 'server.key.pem'));
  await copyFile(path.join(TLS_FIXTURES, 'server.chain.pem'), path.join(dir, 'server.chain.pem'));
  const files: Record<string, string | object> = {
    'base.json': { HOST: '127.0.0.1', PORT: 0, HEALTHCHECKPORT: 0, MANAGMENTPORT: 0, METRICSPORT: 0, ...base },
    'tls.json': { TLSType: 'pem', TLSFile: 'server.key.pem', PEMCert: 'server.chain.pem' },
    'users.json': { identity },
    ...extra,
  };
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
}

/** A running `keepd start`, its ports and log lines. */
export class Keepd {
  readonly ports: Partial<Record<Listener, number>> = {};
  readonly logs: LogLine[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<number>;
  readonly #waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const text of lines) {
        if (!text.startsWith('{')) continue;
        const line = JSON.parse(text) as LogLine;
        this.logs.push(line);
        if (typeof line.listener === 'string' && typeof line.port === 'number' && typeof line.scheme === 'string') this.ports[line.listener as Listener] = line.port;
        for (const waiter of [...this.#waiters]) {
          if (!waiter.match(line)) continue;
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15))));
  }

  static async start(dir: string, options: { env?: Record<string, string>; expect?: number } = {}): Promise<Keepd> {
    const keepd = new Keepd(spawn(CLI, ['start', '--config-dir', dir], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', ...options.env } }));
    const expect = options.expect ?? 4;
    if (expect > 0) await Promise.race([keepd.waitFor(() => Object.keys(keepd.ports).length >= expect, 20_000), keepd.exited.then((code) => Promise.reject(new Error(`keepd exited with ${code}: ${keepd.stderr}`)))]);
    return keepd;
  }

  /** The first log line (already seen, or to come) that matches. */
  waitFor(match: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const seen = this.logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such log line within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({ match, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  }

  /** The next log line that matches, ignoring those logged already. */
  next(match: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const from = this.logs.length;
    return this.waitFor((line) => this.logs.indexOf(line) >= from && match(line), timeoutMs);
  }

  url(listener: Listener, route: string): string {
    return `https://127.0.0.1:${this.ports[listener] ?? 0}${route}`;
  }

  async stop(): Promise<number> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

export interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** A real HTTPS request, verified against the test CA. */
export function call(url: string, options: { method?: string; auth?: readonly [string, string]; body?: object; agent?: Agent; localAddress?: string; ca?: Buffer } = {}): Promise<Answer> {
  const started = performance.now();
  const headers: Record<string, string> = {};
  if (options.auth) headers.authorization = `Basic ${Buffer.from(`${options.auth[0]}:${options.auth[1]}`).toString('base64')}`;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers, ca: options.ca ?? CA, servername: 'localhost', agent: options.agent ?? false, ...(options.localAddress ? { localAddress: options.localAddress } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const reload = (keepd: Keepd): Promise<Answer> => call(keepd.url('management', '/reload'), { method: 'POST', auth: ACCOUNTS.management });
export const health = (keepd: Keepd): Promise<Answer> => call(keepd.url('health', '/health'), { auth: ACCOUNTS.health });

/** `keepd <args>` to completion, with a time bound. */
export function cli(args: string[], timeoutMs = 20_000): { code: number | null; stdout: string; stderr: string; ms: number } {
  const started = performance.now();
  const run = spawnSync(CLI, args, { encoding: 'utf8', timeout: timeoutMs, env: { PATH: process.env.PATH ?? '' } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr, ms: performance.now() - started };
}
