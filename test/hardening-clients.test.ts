import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { describe, it } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { eventually } from './helpers/eventually.js';
import { request, TEST_CA } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { rawRequest } from './helpers/raw-request.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const LIMITS = { handshakeTimeoutMs: 800, headersTimeoutMs: 800, requestTimeoutMs: 2000, keepAliveTimeoutMs: 500, maxHeaderBytes: 4096, maxConnections: 20 };

async function limited(extra: object = {}): Promise<KeepdProcess> {
  const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem, 'limits.json': { limits: LIMITS, ...extra } });
  return startKeepd(dir);
}

function tlsSocket(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: '127.0.0.1', port, servername: 'localhost', ca: TEST_CA }, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Resolves with true if the socket is closed by the other side within `ms`, false if still open. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.closed) {
      resolve(true);
      return;
    }
    const timer = setTimeout(() => resolve(false), ms);
    // A write racing the close may fail with EPIPE first: that is the cut-off too.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('slow and oversized clients', () => {
  it('a client that trickles its headers is cut off at the header timeout while others are served', async () => {
    const keepd = await limited();
    const port = keepd.ports.health ?? 0;
    try {
      const slow = await tlsSocket(port);
      slow.on('error', () => undefined);
      const header = `GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(100)}`;
      let sent = 0;
      const trickle = setInterval(() => {
        if (slow.writable && sent < header.length) slow.write(header[sent++] ?? '', () => undefined);
      }, 100);
      try {
        const served = await request(`https://127.0.0.1:${port}/health`, { auth: [...USERS.health] });
        assert.equal(served.status, 200, 'others are served while the slow client trickles');
        assert.equal(await closedWithin(slow, 5000), true, 'the trickling client was cut off');
        assert.ok(sent < header.length, 'before it finished sending');
      } finally {
        clearInterval(trickle);
        slow.destroy();
      }
    } finally {
      await keepd.stop();
    }
  });

  it('a request whose body trickles past the request timeout is cut off', async () => {
    const keepd = await limited();
    try {
      const body = JSON.stringify({ shutdownkey: 'x'.repeat(40) });
      const chunks = Array.from({ length: 10 }, (_, i) => body.slice(i * 5, i * 5 + 5)).concat(body.slice(50));
      const outcome = await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/encode`, { method: 'POST', auth: [...USERS.management], trickle: { chunks, intervalMs: 400 } }).then(
        (response) => response.status,
        (error: unknown) => (typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : String(error)),
      );
      assert.ok(outcome === 408 || outcome === 'ECONNRESET' || outcome === 'EPIPE', `cut off: ${String(outcome)}`);
      assert.equal((await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] })).status, 200);
    } finally {
      await keepd.stop();
    }
  });

  it('a client that never completes the TLS handshake is cut off at the handshake timeout', async () => {
    const keepd = await limited();
    try {
      const idle = connectTcp({ host: '127.0.0.1', port: keepd.ports.data ?? 0 });
      idle.on('error', () => undefined);
      await once(idle, 'connect');
      assert.equal(await closedWithin(idle, 5000), true);
    } finally {
      await keepd.stop();
    }
  });

  it('an idle kept-alive connection is closed at the keep-alive timeout', async () => {
    const keepd = await limited();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const authorization = `Basic ${Buffer.from(USERS.health.join(':')).toString('base64')}`;
        const req = httpsRequest(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { agent, ca: TEST_CA, servername: 'localhost', headers: { authorization } }, resolve);
        req.on('error', reject);
        req.end();
      });
      const socket = response.socket;
      response.resume();
      await once(response, 'end');
      assert.equal(response.statusCode, 200);
      assert.equal(await closedWithin(socket, 4000), true, 'closed by the server after keepAliveTimeoutMs');
    } finally {
      agent.destroy();
      await keepd.stop();
    }
  });

  it('headers beyond maxHeaderBytes get 431', async () => {
    const keepd = await limited();
    try {
      const big = Buffer.from(`GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'b'.repeat(8000)}\r\nConnection: close\r\n\r\n`);
      const answer = await rawRequest(keepd.ports.health ?? 0, big);
      assert.equal(answer.status, 431);
    } finally {
      await keepd.stop();
    }
  });

  it('connections beyond maxConnections are refused; the ones within go on', async () => {
    const keepd = await limited({ listeners: { metrics: { limits: { maxConnections: 2 } } } });
    const port = keepd.ports.metrics ?? 0;
    const open: TLSSocket[] = [];
    try {
      open.push(await tlsSocket(port), await tlsSocket(port));
      await assert.rejects(tlsSocket(port), /ECONNRESET|socket disconnected|socket hang up/);
      const other = await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] });
      assert.equal(other.status, 200, 'the limit is per listener');
      open.pop()?.destroy();
      // keepd counts the connection out once it sees the close; until then a new one is still refused.
      await eventually(async () => assert.equal((await request(`https://127.0.0.1:${port}/metrics`, { auth: [...USERS.metrics] })).status, 200, 'a place freed up'));
    } finally {
      for (const socket of open) socket.destroy();
      await keepd.stop();
    }
  });
});

describe('management bodies and unknown routes', () => {
  it('JSON only (415), small bodies only (413), malformed JSON 400', async () => {
    const keepd = await limited({ limits: { ...LIMITS, maxBodyBytes: 1024 } });
    const encode = `https://127.0.0.1:${keepd.ports.management ?? 0}/encode`;
    const auth = [...USERS.management] as [string, string];
    try {
      const plain = await request(encode, { method: 'POST', auth, body: 'shutdownkey=x', headers: { 'content-type': 'text/plain' } });
      assert.equal(plain.status, 415);
      const form = await request(encode, { method: 'POST', auth, body: 'shutdownkey=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(form.status, 415);
      const large = await request(encode, { method: 'POST', auth, body: { shutdownkey: 'x'.repeat(2000) } });
      assert.equal(large.status, 413);
      assert.equal((large.json() as { error: string }).error, 'Payload Too Large');
      const broken = await request(encode, { method: 'POST', auth, body: '{"shutdownkey": ', headers: { 'content-type': 'application/json' } });
      assert.equal(broken.status, 400);
      const fine = await request(encode, { method: 'POST', auth, body: { shutdownkey: 'x' }, headers: { 'content-type': 'application/json; charset=utf-8' } });
      assert.equal(fine.status, 200);
    } finally {
      await keepd.stop();
    }
  });

  it('unknown routes and methods are 404 JSON on every listener, never 500', async () => {
    const keepd = await limited();
    try {
      const accounts = { data: USERS.data, health: USERS.health, management: USERS.management, metrics: USERS.metrics };
      for (const [listener, account] of Object.entries(accounts)) {
        const attempts: [string, string][] = [['GET', '/nope'], ['DELETE', '/health'], ['PUT', '/metrics'], ['GET', '/..%2f..%2fetc/passwd'], ['GET', '/%00']];
        for (const [method, route] of attempts) {
          const response = await request(`https://127.0.0.1:${keepd.ports[listener as 'data'] ?? 0}${route}`, { method, auth: [...account] });
          assert.ok(response.status === 404 || response.status === 400, `${listener} ${method} ${route}: ${response.status}`);
          assert.match(String(response.headers['content-type']), /application\/json/);
        }
      }
    } finally {
      await keepd.stop();
    }
  });
});
