import { createHash } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { TEST_CA } from './http-client.js';
import { startKeepd, type KeepdProcess } from './keepd-process.js';
import { startProductStandIn, type ProductStandIn, type StandInOptions } from './product-stand-in.js';
import { tempDir } from './temp-dir.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS } from './test-config.js';

export interface Gateway {
  product: ProductStandIn;
  keepd: KeepdProcess;
  dir: string;
  /** https://127.0.0.1:<data port><path> */
  data: (path: string) => string;
  health: (path?: string) => string;
  metrics: () => string;
}

/**
 * The product stand-in and keepd in front of it over TLS (every listener on a free loopback
 * port). `upstream` and `extra` are merged into keepd's configuration; loopback is NOT exempt from
 * the login throttle here, unlike TEST_BASE.
 */
export async function startGateway(options: { upstream?: object; extra?: object; product?: StandInOptions } = {}): Promise<Gateway> {
  const product = await startProductStandIn(options.product);
  const dir = await tempDir({
    'functionalUsers.json': await functionalUsers(),
    'ports.json': { ...TEST_BASE, loginRateLimit: { exemptLoopback: false, maxFailures: 4 } },
    'tls.json': TLS_CONFIGS.pem,
    'z-gateway.json': { listeners: { data: { upstream: { url: product.url, ...options.upstream } } }, ...options.extra },
  });
  const keepd = await startKeepd(dir);
  const port = (name: 'data' | 'health' | 'metrics'): number => keepd.ports[name] ?? 0;
  return {
    product,
    keepd,
    dir,
    data: (path) => `https://127.0.0.1:${port('data')}${path}`,
    health: (path = '/health') => `https://127.0.0.1:${port('health')}${path}`,
    metrics: () => `https://127.0.0.1:${port('metrics')}/metrics`,
  };
}

/** Peak resident memory of a process so far (VmHWM), in MiB. */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

/** `bytes` of generated data (not held in memory), and the sha256 it will have. */
export function generated(bytes: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(64 * 1024);
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= bytes) {
        this.push(null);
        return;
      }
      const size = Math.min(chunk.length, bytes - sent);
      const piece = Buffer.alloc(size, sent % 251);
      hash.update(piece);
      sent += size;
      this.push(piece);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

/** Streams `body` to `url` (PUT, TLS against the test CA); resolves with the status and the answer text. */
export function upload(url: string, body: Readable, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'PUT', ca: TEST_CA, agent: false, servername: 'localhost', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (piece: string) => (text += piece));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    body.pipe(req);
  });
}

/** Downloads `url`, hashing as it goes; resolves with status, byte count and sha256. */
export function download(url: string): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: TEST_CA, agent: false, servername: 'localhost' }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (piece: Buffer) => {
        bytes += piece.length;
        hash.update(piece);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
