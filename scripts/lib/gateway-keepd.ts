/**
 * keepd as the gateway for the benchmark: a configuration directory whose data listener (TLS,
 * the test certificate) proxies to the upstream, in "passthrough" or "functional" mode; started
 * pinned like the other servers, ready once its data port accepts and the upstream answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { createSecret } from '../../src/accounts/secret.js';
import { freePortFor } from './free-port.js';
import { CLI } from './spawn-keepd.js';

export interface GatewayKeepdOptions {
  dir: string;
  auth: 'passthrough' | 'functional';
  upstream: string;
  keyFile: string;
  certFile: string;
  /** The functional account (in identity.singleDbModeUsers). */
  user: string;
  password: string;
}

export function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

export async function waitAccepting(port: number, what: string, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await accepting(port))) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with ${String(child.exitCode)}`);
    if (Date.now() > deadline) throw new Error(`${what} does not accept on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Writes `<dir>/keepconfig.d/bench.json`; resolves with the config directory and the data port. */
export async function writeGatewayKeepd(options: GatewayKeepdOptions): Promise<{ configDir: string; port: number }> {
  const configDir = path.join(options.dir, 'keepconfig.d');
  await mkdir(configDir, { recursive: true });
  const port = await freePortFor();
  const config = {
    HOST: '127.0.0.1',
    PORT: port,
    HEALTHCHECKPORT: await freePortFor(),
    MANAGMENTPORT: await freePortFor(),
    METRICSPORT: await freePortFor(),
    TLSType: 'pem',
    TLSFile: options.keyFile,
    PEMCert: options.certFile,
    LOG_LEVEL: 'warn',
    watch: { enabled: false },
    loginRateLimit: { exemptLoopback: true },
    bodyHandler: { bodyLimit: -1 },
    listeners: { data: { upstream: { url: options.upstream, auth: options.auth } } },
    identity: options.auth === 'functional' ? { singleDbModeUsers: { [options.user]: { active: true, CN: `CN=${options.user}/O=Bench`, secret: await createSecret(options.password) } } } : {},
  };
  await writeFile(path.join(configDir, 'bench.json'), JSON.stringify(config, null, 2));
  return { configDir, port };
}

/**
 * Starts keepd with `wrap` (the pinning prefix); what it writes (warnings and errors at LOG_LEVEL
 * warn) is kept for `keepdLog`, so the benchmark's output stays readable.
 */
export async function startGatewayKeepd(configDir: string, port: number, wrap: (command: string, args: string[]) => [string, string[]]): Promise<ChildProcess> {
  const [command, args] = wrap(CLI, ['start', '--config-dir', configDir]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  logs.set(child, log);
  await waitAccepting(port, 'keepd', child);
  return child;
}

const logs = new WeakMap<ChildProcess, string[]>();

/** What keepd wrote so far (warnings at LOG_LEVEL warn). */
export function keepdLog(child: ChildProcess): string {
  return (logs.get(child) ?? []).join('');
}
