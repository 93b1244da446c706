import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch, WebSocket } from 'undici';
import { startGateway, type Gateway } from './helpers/gateway-setup.js';
import { request, TEST_CA } from './helpers/http-client.js';
import { USERS } from './helpers/test-config.js';

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
}

describe('gateway: the data listener in front of the product (passthrough)', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    await gw.keepd.stop();
    await gw.product.close();
  });

  it('forwards what the product needs and sets X-Forwarded-* as the how-tos do', async () => {
    const response = await request(gw.data('/echo/headers?x=1'), {
      headers: {
        host: 'keep.example.com',
        authorization: 'Bearer abc.def.ghi',
        connection: 'x-listed',
        'x-listed': 'hop-by-hop, named by Connection',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic eDp5',
        'x-forwarded-for': '203.0.113.66',
        'x-real-ip': '203.0.113.66',
        'x-forwarded-user': 'admin',
        'x-custom': 'kept',
      },
    });
    assert.equal(response.status, 200);
    const echo = response.json() as Echo;
    assert.equal(echo.url, '/echo/headers?x=1');
    const h = echo.headers;
    assert.equal(h.authorization, 'Bearer abc.def.ghi', 'passthrough: the product authenticates');
    assert.equal(h.host, 'keep.example.com');
    assert.equal(h['x-custom'], 'kept');
    for (const dropped of ['x-listed', 'keep-alive', 'te', 'proxy-authorization', 'x-forwarded-user']) assert.equal(h[dropped], undefined, dropped);
    // The peer is not a trusted proxy: its own X-Forwarded-For and X-Real-IP are replaced.
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-real-ip'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-host'], 'keep.example.com');
    assert.equal(h['x-forwarded-port'], String(gw.keepd.ports.data));
  });

  it('proxies every method, and the product’s status and headers come back (hop-by-hop removed, HSTS added)', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const response = await request(gw.data('/echo/headers'), { method, ...(['POST', 'PUT', 'PATCH'].includes(method) ? { body: { a: 1 } } : {}) });
      assert.equal(response.status, 200, `${method}: ${response.body}`);
      assert.equal((response.json() as Echo).method, method);
    }
    const head = await request(gw.data('/echo/headers'), { method: 'HEAD' });
    assert.deepEqual([head.status, head.body], [200, '']);
    assert.ok(Number(head.headers['content-length']) > 0, 'HEAD: the length of the body a GET would have');
    const odd = await request(gw.data('/set-headers'));
    assert.equal(odd.headers['x-product'], 'yes');
    assert.equal(odd.headers['x-drop-me'], undefined);
    assert.notEqual(odd.headers['keep-alive'], 'timeout=5');
    assert.equal(odd.headers['strict-transport-security'], 'max-age=31536000');
    for (const code of [201, 404, 500, 503]) assert.equal((await request(gw.data(`/status/${code}`))).status, code);
  });

  it('passes redirects and Location through unchanged (cross-server scopes answer 302)', async () => {
    const absolute = await request(gw.data('/redirect'));
    assert.equal(absolute.status, 302);
    assert.equal(absolute.headers.location, 'https://other.example.com:8880/api/v1/userinfo?scope=x');
    assert.equal((await request(gw.data('/relative-redirect'))).headers.location, '/api/v1/userinfo');
  });

  it('the product’s login: POST /api/v1/auth gives a JWT, which the product then accepts', async () => {
    const login = await request(gw.data('/api/v1/auth'), { method: 'POST', body: { username: 'bob', password: 'bob-pw' } });
    assert.equal(login.status, 200);
    const { bearer } = login.json() as { bearer: string };
    const userinfo = await request(gw.data('/api/v1/userinfo'), { headers: { authorization: `Bearer ${bearer}` } });
    assert.equal(userinfo.status, 200);
    assert.equal((userinfo.json() as { sub: string }).sub, 'bob');
    assert.equal((await request(gw.data('/api/v1/userinfo'))).status, 401, 'no token: the product says 401, keepd passes it on');
  });

  it('counts failed logins per client: after maxFailures, 429 from keepd, and the product never sees them', async () => {
    const attacker = '127.0.0.23';
    const guess = (): ReturnType<typeof request> => request(gw.data('/api/v1/auth'), { method: 'POST', body: { username: 'alice', password: 'guess' }, localAddress: attacker });
    for (let i = 0; i < 4; i++) assert.equal((await guess()).status, 401);
    const before = gw.product.authAttempts;
    const refused = await guess();
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers['retry-after']) > 0);
    assert.match((refused.json() as { message: string }).message, /too many failed logins/);
    // Basic credentials (the product's OData feeds) are logins too, and refused as well.
    assert.equal((await request(gw.data('/api/v1/userinfo'), { auth: ['alice', 'x'], localAddress: attacker })).status, 429);
    assert.equal(gw.product.authAttempts, before, 'the refused login never reached the product');
    // 4 failures < the product's 5: alice is not locked out, and other clients log in as usual.
    const real = await request(gw.data('/api/v1/auth'), { method: 'POST', body: { username: 'alice', password: 'alice-pw' }, localAddress: '127.0.0.24' });
    assert.equal(real.status, 200);
    // A client with a token is not logging in: not throttled.
    const { bearer } = real.json() as { bearer: string };
    assert.equal((await request(gw.data('/api/v1/userinfo'), { headers: { authorization: `Bearer ${bearer}` }, localAddress: attacker })).status, 200);
  });

  it('a login with Expect: 100-continue gets its 100, and logins abandoned halfway hold nothing against the client', async () => {
    let continued = false;
    const body = JSON.stringify({ username: 'bob', password: 'bob-pw' });
    const login = await request(gw.data('/api/v1/auth'), { method: 'POST', body, headers: { 'content-length': String(Buffer.byteLength(body)) }, onContinue: () => (continued = true), localAddress: '127.0.0.25' });
    assert.deepEqual([login.status, continued], [200, true]);
    for (let i = 0; i < 6; i++) {
      // Half a body, then the client is gone: the attempt never reached the product.
      await new Promise<void>((resolve) => {
        const req = httpsRequest(gw.data('/api/v1/auth'), { method: 'POST', ca: TEST_CA, servername: 'localhost', agent: false, localAddress: '127.0.0.26', headers: { 'content-type': 'application/json', 'content-length': '100' } });
        req.on('error', () => resolve());
        req.write('{"username":"bob"', () => setImmediate(() => req.destroy()));
        req.on('close', () => resolve());
      });
    }
    const after = await request(gw.data('/api/v1/auth'), { method: 'POST', body: { username: 'bob', password: 'bob-pw' }, localAddress: '127.0.0.26' });
    assert.equal(after.status, 200);
  });

  it('tunnels WebSockets (the product’s event bus) over TLS, text and binary', async () => {
    const dispatcher = new Agent({ connect: { ca: TEST_CA, servername: 'localhost' } });
    const socket = new WebSocket(gw.data('/api/v1/events').replace('https:', 'wss:'), { dispatcher });
    socket.binaryType = 'arraybuffer';
    const received: (string | number[])[] = [];
    const done = new Promise<void>((resolve, reject) => {
      socket.addEventListener('message', (event) => {
        const data: unknown = event.data;
        received.push(typeof data === 'string' ? data : [...new Uint8Array(data as ArrayBuffer)]);
        if (received.length === 2) resolve();
      });
      socket.addEventListener('error', () => reject(new Error('websocket error')));
    });
    await new Promise<void>((resolve) => socket.addEventListener('open', () => resolve()));
    socket.send('hello product');
    socket.send(new Uint8Array([1, 2, 255]));
    await done;
    assert.deepEqual(received, ['hello product', [1, 2, 255]]);
    socket.close();
    await dispatcher.close();
  });

  it('a refused upgrade comes back as the product sent it', async () => {
    const dispatcher = new Agent({ connect: { ca: TEST_CA, servername: 'localhost' } });
    const socket = new WebSocket(gw.data('/api/v1/events?auth=required').replace('https:', 'wss:'), { dispatcher });
    const outcome = await new Promise<string>((resolve) => {
      socket.addEventListener('open', () => resolve('open'));
      socket.addEventListener('error', () => resolve('refused'));
    });
    assert.equal(outcome, 'refused');
    await dispatcher.close();
  });

  it('a client that goes away aborts its request to the product', async () => {
    const controller = new AbortController();
    const pending = fetchSlow(gw.data('/slow?ms=30000'), controller.signal);
    await gw.product.waitForRequest('/slow');
    controller.abort();
    await pending;
    await gw.product.waitForAbort('/slow');
  });

  it('health: /health has an upstream component; /health/live and /health/ready answer', async () => {
    const health = await request(gw.health(), { auth: [...USERS.health] });
    assert.equal(health.status, 200);
    const upstream = (health.json() as { components: { upstream: { status: string; url: string; reachable: boolean; latencyMs?: number } } }).components.upstream;
    assert.deepEqual([upstream.status, upstream.url, upstream.reachable], ['ok', gw.product.url, true]);
    assert.equal((await request(gw.health('/health/live'), { auth: [...USERS.health] })).status, 200);
    const ready = await request(gw.health('/health/ready'), { auth: [...USERS.health] });
    assert.deepEqual([ready.status, (ready.json() as { status: string }).status], [200, 'ready']);
    assert.equal((await request(gw.health('/health/ready'))).status, 401, 'the health realm, as /health');
  });

  it('metrics: upstream requests by outcome, a duration histogram, bytes and an up gauge', async () => {
    await request(gw.data('/hello'));
    const text = (await request(gw.metrics(), { auth: [...USERS.metrics] })).body;
    assert.match(text, /keepd_upstream_requests_total\{outcome="2xx"\} [1-9]/);
    assert.match(text, /keepd_upstream_requests_total\{outcome="refused"\} [1-9]/);
    assert.match(text, /keepd_upstream_request_duration_seconds_count [1-9]/);
    assert.match(text, /keepd_upstream_bytes_total\{direction="received"\} [1-9]/);
    assert.match(text, /keepd_upstream_up 1/);
    assert.match(text, /keepd_http_requests_total\{listener="data",route="\/\*",method="GET",status="200"\} [1-9]/);
  });
});

/** A request through node's fetch that is expected to be aborted. */
async function fetchSlow(url: string, signal: AbortSignal): Promise<void> {
  const dispatcher = new Agent({ connect: { ca: TEST_CA, servername: 'localhost' } });
  try {
    await fetch(url, { signal, dispatcher });
  } catch {
    // aborted, as intended
  } finally {
    await dispatcher.close();
  }
}
