import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after } from 'node:test';
import { Agent, fetch } from 'undici';
import { eventually } from './eventually.js';
import { freePort } from './free-port.js';
import { FIXTURES } from './paths.js';
import { tempDir, writeFiles } from './temp-dir.js';

/*
 * Let's Encrypt's test ACME server, pebble (Debian package `pebble`), started for a test with
 * pebble-challtestsrv as its DNS: every name resolves to 127.0.0.1, so pebble validates the
 * challenges against keepd on loopback. Debian ships no certificate for pebble's own HTTPS:
 * it serves the test fixtures' localhost certificate (CA: test/fixtures/tls/ca.cert.pem).
 */

export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** The test CA that signed pebble's own HTTPS certificate (acme.caFile). */
  caFile: string;
  /** The root that signs what pebble issues; it changes on every pebble start. */
  issuingRoot: () => Promise<string>;
  stop: () => Promise<void>;
  /** Starts pebble again on the same ports (a new issuing root). */
  restart: () => Promise<void>;
}

export const PEBBLE_CA_FILE = path.join(FIXTURES, 'tls', 'ca.cert.pem');

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

function launch(command: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return { child, output: () => output };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** `count` loopback ports, free a moment ago, different from each other and from `taken`. */
async function distinctFreePorts(count: number, taken: number[]): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    if (!ports.includes(port) && !taken.includes(port)) ports.push(port);
  }
  return ports;
}

/**
 * pebble validating tls-alpn-01 on `tlsPort` and http-01 on `httpPort` (keepd's ports).
 * Deterministic: no validation sleep, no rejected nonces, no reused authorizations.
 */
export async function startPebble(ports: { tlsPort: number; httpPort: number }): Promise<Pebble> {
  const dir = await tempDir();
  const [listen, management, dns, challtestManagement] = await distinctFreePorts(4, [ports.tlsPort, ports.httpPort]);
  const caFile = PEBBLE_CA_FILE;
  await writeFiles(dir, {
    'pebble.json': {
      pebble: {
        listenAddress: `127.0.0.1:${listen}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: path.join(FIXTURES, 'tls', 'server.cert.pem'),
        privateKey: path.join(FIXTURES, 'tls', 'server.key.pem'),
        httpPort: ports.httpPort,
        tlsPort: ports.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    },
  });
  launch('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dns}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challtestManagement}`]);
  const dispatcher = new Agent({ connect: { ca: await readFile(caFile, 'utf8') } });
  let server: ReturnType<typeof launch> | undefined;
  const start = async (): Promise<void> => {
    const env = { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' };
    const started = launch('pebble', ['-config', path.join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dns}`], env);
    server = started;
    await eventually(async () => {
      if (started.child.exitCode !== null) throw new Error(`pebble exited: ${started.output()}`);
      const response = await fetch(`https://127.0.0.1:${listen}/dir`, { dispatcher });
      if (!response.ok) throw new Error(`pebble answered ${response.status}`);
    }, 10_000);
  };
  await start();
  return {
    directory: `https://127.0.0.1:${listen}/dir`,
    caFile,
    issuingRoot: async () => {
      const response = await fetch(`https://127.0.0.1:${management}/roots/0`, { dispatcher });
      return response.text();
    },
    stop: async () => {
      if (server) await kill(server.child);
    },
    restart: async () => {
      if (server) await kill(server.child);
      await start();
    },
  };
}

/** Stops every pebble and fake DNS of this test file. */
export async function stopAllPebbles(): Promise<void> {
  await Promise.all([...children].map(kill));
}
