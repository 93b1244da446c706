import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startGateway, type Gateway } from './helpers/gateway-setup.js';
import { request, TEST_CA } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { startRawUpstream } from './helpers/raw-upstream.js';
import { tempDir } from './helpers/temp-dir.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';

/** Raw bytes to keepd's TLS data port; resolves with everything it answered before closing. */
function raw(port: number, bytes: string, options: { localAddress?: string; endAfterMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', ca: TEST_CA, servername: 'localhost', ...(options.localAddress ? { localAddress: options.localAddress } : {}) }, () => socket.write(bytes));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    if (options.endAfterMs !== undefined) setTimeout(() => socket.end(), options.endAfterMs);
  });
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('gateway under attack: the login throttle holds (passthrough)', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    await gw.keepd.stop();
    await gw.product.close();
  });
  const port = (): number => gw.keepd.ports.data ?? 0;

  it('dot segments and backslashes are refused (400), so no login path slips past the throttle', async () => {
    const seen = gw.product.authAttempts;
    for (const target of ['/api/v1/./auth', '/api/v1/x/../auth', '/api/v1/%2e/auth', '/api%5cv1/auth']) {
      const answer = await raw(port(), `POST ${target} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`);
      assert.match(answer, /^HTTP\/1\.1 400 /, target);
    }
    assert.equal(gw.product.authAttempts, seen);
  });

  it('Basic guesses on WebSocket upgrades count, and are refused with 429 like any login', async () => {
    const guess = (password: string): Promise<string> =>
      raw(port(), `GET /api/v1/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: ${basic('bob', password)}\r\n\r\n`, { localAddress: '127.0.0.31', endAfterMs: 200 });
    // The stand-in's event bus ignores Basic; a 401 from it is what the product would say: use a path it refuses.
    const refusedByProduct = (password: string): Promise<string> =>
      raw(port(), `GET /api/v1/events?auth=required HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: ${basic('bob', password)}\r\n\r\n`, { localAddress: '127.0.0.31' });
    for (let i = 0; i < 4; i++) assert.match(await refusedByProduct(`guess-${i}`), /^HTTP\/1\.1 401 /);
    assert.match(await guess('guess-5'), /^HTTP\/1\.1 429 /);
  });

  it('a 2xx to Basic credentials on a public route does not wipe the failures', async () => {
    const client = '127.0.0.32';
    const fail = async (password: string): Promise<number> => (await request(gw.data('/api/v1/auth'), { method: 'POST', body: { username: 'bob', password }, localAddress: client })).status;
    assert.deepEqual([await fail('a'), await fail('b')], [401, 401]);
    assert.equal((await request(gw.data('/hello'), { auth: ['bob', 'x'], localAddress: client })).status, 200);
    assert.deepEqual([await fail('c'), await fail('d')], [401, 401]);
    assert.equal(await fail('e'), 429);
  });

  it('chunked login bodies are read too: the attacker’s own good login clears only its own user', async () => {
    const client = '127.0.0.33';
    const chunked = (user: string, password: string): Promise<string> => {
      const body = JSON.stringify({ username: user, password });
      return raw(port(), `POST /api/v1/auth HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`, { localAddress: client });
    };
    for (let i = 0; i < 2; i++) assert.match(await chunked('bob', `c${i}`), /^HTTP\/1\.1 401 /);
    assert.match(await chunked('alice', 'alice-pw'), /^HTTP\/1\.1 200 /);
    for (let i = 2; i < 4; i++) assert.match(await chunked('bob', `c${i}`), /^HTTP\/1\.1 401 /);
    assert.match(await chunked('bob', 'again'), /^HTTP\/1\.1 429 /);
  });

  it('Basic credentials that got a 2xx from a public route are still logins: guesses cannot be laundered', async () => {
    const client = '127.0.0.36';
    for (let i = 0; i < 2; i++) {
      assert.equal((await request(gw.data('/hello'), { auth: ['bob', `l${i}`], localAddress: client })).status, 200);
      assert.equal((await request(gw.data('/api/v1/userinfo'), { auth: ['bob', `l${i}`], localAddress: client })).status, 401);
    }
    // 2 failures: 2 more may run at once; the parallel burst gets no further than that.
    const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => request(gw.data('/api/v1/userinfo'), { auth: ['bob', `p${i}`], localAddress: client })));
    assert.equal(burst.filter((r) => r.status === 401).length, 2, burst.map((r) => r.status).join());
    assert.equal((await request(gw.data('/api/v1/auth'), { method: 'POST', body: { username: 'bob', password: 'x' }, headers: { authorization: `Basic ${Buffer.from('junk:junk').toString('base64')}` }, localAddress: client })).status, 429);
  });

  it('only WebSocket upgrades: an h2c upgrade without a body is answered as the plain request it also is, never upgraded', async () => {
    const answer = await raw(port(), 'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    const seen = gw.product.seen.at(-1);
    assert.equal(seen?.url, '/hello');
    assert.equal(seen.headers.upgrade, undefined, 'Upgrade is hop-by-hop: the product never sees it');
    assert.equal(seen.headers['http2-settings'], undefined);
  });

  it('only WebSocket upgrades: h2c with a body is refused (400)', async () => {
    const answer = await raw(port(), 'POST /hello HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 2\r\n\r\n{}');
    assert.match(answer, /^HTTP\/1\.1 400 /);
  });

  it('a stream of unknown length reaches the client as it comes (headers and the first chunk at once)', async () => {
    const { request: httpsRequest } = await import('node:https');
    const first = await new Promise<{ status: number; bytes: number }>((resolve, reject) => {
      const req = httpsRequest(gw.data('/stall-body'), { ca: TEST_CA, servername: 'localhost', agent: false }, (res) => {
        res.once('data', (chunk: Buffer) => {
          resolve({ status: res.statusCode ?? 0, bytes: chunk.length });
          req.destroy();
        });
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
      req.end();
    });
    assert.equal(first.status, 200);
    assert.ok(first.bytes > 0, 'the first chunk arrived while the product stalls');
  });

  it('an OData client’s parallel requests with Basic credentials: up to maxFailures at once, the rest 429 Retry-After: 1', async () => {
    const client = '127.0.0.35';
    const answers = await Promise.all(Array.from({ length: 8 }, () => request(gw.data('/slow?ms=100'), { auth: ['alice', 'alice-pw'], localAddress: client })));
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 200).length, 4, statuses.join());
    assert.ok(answers.filter((a) => a.status === 429).every((a) => a.headers['retry-after'] === '1'));
    // Once those are answered, the next ones go through: nothing was held against the client.
    assert.equal((await request(gw.data('/slow?ms=1'), { auth: ['alice', 'alice-pw'], localAddress: client })).status, 200);
  });

  it('a request undici cannot send (two Host headers) is 400, and the product stays healthy', async () => {
    const answer = await raw(port(), 'GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\nconnection: close\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.equal((await request(gw.health('/health/ready'), { auth: [...USERS.health] })).status, 200);
  });
});

describe('gateway: a product that answers badly', () => {
  let keepd: KeepdProcess;
  let upstream: Awaited<ReturnType<typeof startRawUpstream>>;
  let loginWaiters: (() => void)[] = [];
  const loginArrived = (): Promise<void> => new Promise((resolve) => loginWaiters.push(resolve));
  before(async () => {
    upstream = await startRawUpstream({
      // A login the product takes and never answers.
      '/api/v1/auth': () => {
        const waiters = loginWaiters;
        loginWaiters = [];
        for (const resolve of waiters) resolve();
      },
      '/bad-reason': 'HTTP/1.1 200 O\x7fK\r\ncontent-length: 2\r\n\r\nok',
      '/not-modified': 'HTTP/1.1 304 Not Modified\r\netag: "1"\r\ncontent-length: 10\r\n\r\n',
      '/garbage': 'HTTX/9 what\r\n\r\n',
      '/ws-stall': 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789',
      // Takes an upload and waits for all of it (which never comes).
      '/sink': () => undefined,
      // Stops reading at once: what the client sends piles up in front of it.
      '/no-read': (socket) => socket.pause(),
    });
    const dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      'ports.json': TEST_BASE,
      'tls.json': TLS_CONFIGS.pem,
      'z.json': { httpIdleTimeout: 1, loginRateLimit: { exemptLoopback: false, maxFailures: 4 }, listeners: { data: { upstream: { url: upstream.url, probe: { path: '/not-modified' } } } } },
    });
    keepd = await startKeepd(dir);
  });
  after(async () => {
    await keepd.stop();
    await upstream.close();
  });
  const data = (path: string): string => `https://127.0.0.1:${keepd.ports.data ?? 0}${path}`;

  it('a login whose client leaves once the product has it counts as failed (the product counted it)', async () => {
    const client = '127.0.0.34';
    for (let i = 0; i < 4; i++) {
      const arrived = loginArrived();
      const body = JSON.stringify({ username: 'carol', password: `x${i}` });
      const socket = tlsConnect({ port: keepd.ports.data ?? 0, host: '127.0.0.1', ca: TEST_CA, servername: 'localhost', ...{ localAddress: client } }, () => socket.write(`POST /api/v1/auth HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`));
      socket.on('error', () => undefined);
      await arrived; // the product has it (and never answers)
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.destroy();
      await closed;
    }
    const next = await request(data('/api/v1/auth'), { method: 'POST', body: { username: 'carol', password: 'x' }, localAddress: client });
    assert.equal(next.status, 429);
  });

  it('an upload that stalls is cut after httpIdleTimeout with 408', async () => {
    const answer = await raw(keepd.ports.data ?? 0, 'PUT /sink HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n0123456789');
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /stalled for 1000 ms \(httpIdleTimeout\)/);
  });

  it('a product that stops reading an upload is the product’s fault (504), not the client’s', async () => {
    const { Readable } = await import('node:stream');
    const { upload } = await import('./helpers/gateway-setup.js');
    let sent = 0;
    const body = new Readable({
      read() {
        sent += 65536;
        this.push(sent > 8 * 1024 * 1024 ? null : Buffer.alloc(65536));
      },
    });
    const answer = await upload(data('/no-read'), body);
    assert.equal(answer.status, 504, answer.text);
    assert.match(answer.text, /stopped reading the request body/);
  });

  it('a reason phrase node will not send: the standard one instead', async () => {
    const response = await request(data('/bad-reason'));
    assert.deepEqual([response.status, response.body], [200, 'ok']);
  });

  it('a 304 with the Content-Length of the body it has not (RFC 9110 8.6) is passed on, connection intact', async () => {
    const response = await request(data('/not-modified'));
    assert.equal(response.status, 304);
    assert.equal(response.headers.etag, '"1"');
  });

  it('garbage from the product is a 502 that says so, and does not make the product “unreachable”', async () => {
    const response = await request(data('/garbage'));
    assert.equal(response.status, 502);
    assert.match((response.json() as { message: string }).message, /malformed|cannot pass on/);
    assert.equal((await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health/ready`, { auth: [...USERS.health] })).status, 200);
  });

  it('an upgrade the product refuses and then stalls: its answer, then the connection closes, nothing appended', async () => {
    const answer = await raw(keepd.ports.data ?? 0, 'GET /ws-stall HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.ok(answer.endsWith('0123456789'), JSON.stringify(answer));
  });
});
