/**
 * The physical limit for keepd's health listener: a bare Node `https` server doing the same work
 * (same certificate and TLS settings, Basic credentials checked with a constant-time compare, the
 * same JSON body) and nothing else. With `--http2` (scripts/bench-front.ts), a Node
 * `http2.createSecureServer({ allowHTTP1: true })` instead: HTTP/2 and HTTP/1.1 by ALPN, as keepd's
 * TLS listeners, with keepd's default of 128 streams per connection; the handler is the same.
 *
 *   node dist/scripts/lib/bare-server.js PORT KEY CERT USER PASSWORD BODY_FILE [--http2]
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer } from 'node:https';
import { DEFAULT_CIPHERS } from '../../src/tls/tls-policy.js';

const http2 = process.argv.includes('--http2');
const [port = '0', keyFile = '', certFile = '', user = '', password = '', bodyFile = ''] = process.argv.slice(2).filter((arg) => arg !== '--http2');
const expected = Buffer.from(`Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
const body = readFileSync(bodyFile);
const unauthorized = JSON.stringify({ statusCode: 401, error: 'Unauthorized' });

const tls = {
  key: readFileSync(keyFile),
  cert: readFileSync(certFile),
  minVersion: 'TLSv1.2' as const,
  ciphers: DEFAULT_CIPHERS.join(':'),
  honorCipherOrder: true,
};

function handle(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const offered = Buffer.from(req.headers.authorization ?? '');
  if (offered.length !== expected.length || !timingSafeEqual(offered, expected)) {
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="healthcheckAPI"' });
    res.end(unauthorized);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
}

const server = http2
  ? createSecureServer({ ...tls, allowHTTP1: true, settings: { maxConcurrentStreams: 128 } }, handle)
  : createServer({ ...tls, keepAliveTimeout: 10_000 }, handle);
server.listen(Number(port), '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }));
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  // An HTTP/2 server's close() waits for every session to end: do not wait on a client's.
  if (http2) setTimeout(() => process.exit(0), 2000).unref();
});
