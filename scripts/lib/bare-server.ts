/**
 * The physical limit for keepd's health listener: a bare Node `https` server doing the same work
 * (same certificate and TLS settings, Basic credentials checked with a constant-time compare, the
 * same JSON body) and nothing else.
 *
 *   node dist/scripts/lib/bare-server.js PORT KEY CERT USER PASSWORD BODY_FILE
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { DEFAULT_CIPHERS } from '../../src/tls/tls-policy.js';

const [port = '0', keyFile = '', certFile = '', user = '', password = '', bodyFile = ''] = process.argv.slice(2);
const expected = Buffer.from(`Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
const body = readFileSync(bodyFile);
const unauthorized = JSON.stringify({ statusCode: 401, error: 'Unauthorized' });

const server = createServer(
  {
    key: readFileSync(keyFile),
    cert: readFileSync(certFile),
    minVersion: 'TLSv1.2',
    ciphers: DEFAULT_CIPHERS.join(':'),
    honorCipherOrder: true,
    keepAliveTimeout: 10_000,
  },
  (req, res) => {
    const offered = Buffer.from(req.headers.authorization ?? '');
    if (offered.length !== expected.length || !timingSafeEqual(offered, expected)) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="healthcheckAPI"' });
      res.end(unauthorized);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  },
);
server.listen(Number(port), '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
