/**
 * Requests that each open a new TLS connection, full handshakes or resumed ones (TLS session
 * tickets), as Prometheus and probe agents do. Prints one JSON line of figures.
 *
 *   node dist/scripts/lib/handshake-client.js PORT full|resumed CONCURRENCY SECONDS AUTH_HEADER CA_FILE
 */
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';

const [port = '0', mode = 'full', concurrency = '8', seconds = '5', authorization = '', caFile = ''] = process.argv.slice(2);
const ca = readFileSync(caFile);
const request = Buffer.from(`GET /health HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${authorization}\r\nConnection: close\r\n\r\n`);
const deadline = performance.now() + Number(seconds) * 1000;
let ok = 0;
let failed = 0;
let reused = 0;

function once(session: Buffer | undefined): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    let latest = session;
    let head = '';
    const socket: TLSSocket = connect({ host: '127.0.0.1', port: Number(port), servername: 'localhost', ca, ...(session ? { session } : {}) }, () => {
      if (socket.isSessionReused()) reused++;
      socket.write(request);
    });
    socket.on('session', (ticket: Buffer) => (latest = ticket));
    socket.on('data', (chunk: Buffer) => {
      if (head.length < 16) head += chunk.toString('latin1');
    });
    socket.on('close', () => {
      if (head.startsWith('HTTP/1.1 200')) ok++;
      else failed++;
      resolve(mode === 'resumed' ? latest : undefined);
    });
    socket.on('error', () => undefined);
  });
}

async function loop(): Promise<void> {
  let session: Buffer | undefined;
  while (performance.now() < deadline) session = await once(session);
}

const started = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, loop));
const elapsed = (performance.now() - started) / 1000;
console.log(JSON.stringify({ mode, requests: ok, failed, reused, rps: ok / elapsed }));
