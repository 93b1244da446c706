import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, WebSocket } from 'undici';
import { request, TEST_CA } from './helpers/http-client.js';
import { rawRequest } from './helpers/raw-request.js';
import { freePort } from './helpers/free-port.js';
import { basic, curlHttp2, h2Request, h2Session } from './helpers/h2.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { startProductStandIn, type ProductStandIn } from './helpers/product-stand-in.js';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';

const front = (routes: object[]): object => ({ listeners: { front: { enabled: true, port: 0, routes } } });

describe('the front listener, routed by path (the product\'s "all ports on 443" recipe)', () => {
  let product: ProductStandIn;
  let domino: ProductStandIn;
  let keepd: KeepdProcess;
  const url = (target: string): string => `https://127.0.0.1:${keepd.ports.front ?? 0}${target}`;

  before(async () => {
    product = await startProductStandIn();
    // A second stand-in plays Domino's own HTTP task (moved to port 81 in the how-to).
    domino = await startProductStandIn();
    const dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      // The login throttle on (loopback not exempt), and a short whole-request deadline.
      'ports.json': { ...TEST_BASE, loginRateLimit: { exemptLoopback: false, maxFailures: 4 }, limits: { requestTimeoutMs: 1000 } },
      'tls.json': TLS_CONFIGS.pem,
      'z-gateway.json': { listeners: { data: { upstream: { url: product.url } } } },
      'z-front.json': front([
        { path: '/api', to: 'data' },
        { path: '/metrics', to: 'metrics' },
        { path: '/health', to: 'health' },
        { path: '/', to: domino.url },
      ]),
    });
    keepd = await startKeepd(dir, { expect: 5 });
  });
  after(async () => {
    await keepd.stop();
    await product.close();
    await domino.close();
  });

  it('serves /api through the data listener to the product, which sees the front port as the client did', async () => {
    const login = await request(url('/api/v1/auth'), { method: 'POST', body: { username: 'alice', password: 'alice-pw' } });
    assert.equal(login.status, 200);
    const seen = product.seen.at(-1);
    assert.equal(seen?.url, '/api/v1/auth');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-port'], String(keepd.ports.front));
  });

  it('serves /metrics with the metrics realm: a metrics account 200, a health account 401, as on the metrics port', async () => {
    const scraped = await request(url('/metrics'), { auth: [...USERS.metrics] });
    assert.equal(scraped.status, 200);
    assert.match(scraped.body, /^keepd_http_requests_total/m);
    const wrongRealm = await request(url('/metrics'), { auth: [...USERS.health] });
    assert.equal(wrongRealm.status, 401);
    assert.match(String(wrongRealm.headers['www-authenticate']), /^Basic realm="metricsAPI"/);
    const direct = await request(`https://127.0.0.1:${keepd.ports.metrics ?? 0}/metrics`, { auth: [...USERS.health] });
    assert.equal(direct.status, wrongRealm.status);
  });

  it('serves /health with the health realm', async () => {
    assert.equal((await request(url('/health'), { auth: [...USERS.health] })).status, 200);
    assert.equal((await request(url('/health/live'), { auth: [...USERS.health] })).status, 200);
    assert.equal((await request(url('/health'), { auth: [...USERS.metrics] })).status, 401);
    assert.equal((await request(url('/health'))).status, 401);
  });

  it('sends the rest to the upstream URL route, passed through, with the forwarding headers', async () => {
    const echoed = await request(url('/echo/headers?x=1'), { headers: { authorization: 'Basic ZG9taW5vOnVzZXI=' } });
    assert.equal(echoed.status, 200);
    const body = echoed.json() as { url: string; headers: Record<string, string> };
    assert.equal(body.url, '/echo/headers?x=1');
    assert.equal(body.headers.authorization, 'Basic ZG9taW5vOnVzZXI=', 'the upstream authenticates its own users');
    assert.equal(body.headers['x-forwarded-proto'], 'https');
    assert.equal(body.headers['x-forwarded-port'], String(keepd.ports.front));
    assert.equal(body.headers.host, `127.0.0.1:${keepd.ports.front ?? 0}`);
    assert.equal(echoed.headers['strict-transport-security'], 'max-age=31536000');
  });

  it('tunnels the product\'s WebSocket through the /api route', async () => {
    const dispatcher = new Agent({ connect: { ca: TEST_CA, servername: 'localhost' } });
    const socket = new WebSocket(url('/api/v1/events').replace('https:', 'wss:'), { dispatcher });
    const echoed = new Promise<unknown>((resolve, reject) => {
      socket.addEventListener('message', (event) => resolve(event.data));
      socket.addEventListener('error', () => reject(new Error('websocket error')));
    });
    await new Promise<void>((resolve) => socket.addEventListener('open', () => resolve()));
    socket.send('through the front');
    assert.equal(await echoed, 'through the front');
    socket.close();
    await dispatcher.close();
  });

  it('does not count an upstream route\'s Basic requests as logins (the upstream is not the product)', async () => {
    const localAddress = '127.0.0.31';
    const answers = await Promise.all(Array.from({ length: 6 }, () => request(url('/hello'), { headers: { authorization: 'Basic d2VidXNlcjp3ZWJwdw==' }, localAddress })));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200]);
    const login = await request(url('/api/v1/auth'), { method: 'POST', body: { username: 'alice', password: 'alice-pw' }, localAddress });
    assert.equal(login.status, 200);
  });

  it('carries an upload longer than limits.requestTimeoutMs (the gateway\'s uploads are cut only when they stall)', async () => {
    const chunks = Array.from({ length: 6 }, (_, i) => `chunk ${i};`);
    const upload = await request(url('/upload'), { method: 'PUT', trickle: { chunks, intervalMs: 300 } });
    assert.equal(upload.status, 200);
  });

  it('answers an h2c upgrade on a route to a listener as the plain request it also is', async () => {
    const authorization = `Basic ${Buffer.from(USERS.health.join(':')).toString('base64')}`;
    const answer = await rawRequest(keepd.ports.front ?? 0, Buffer.from(`GET /health HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${authorization}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`));
    assert.equal(answer.status, 200, answer.raw);
  });

  it('speaks HTTP/2: each route over one h2 session, with its own realm', async () => {
    const viaCurl = await curlHttp2(url('/metrics'), ['-u', USERS.metrics.join(':')]);
    assert.deepEqual([viaCurl.version, viaCurl.status], ['2', 200]);
    const session = await h2Session(keepd.ports.front ?? 0);
    try {
      const [metrics, wrongRealm, health, upstream, login] = await Promise.all([
        h2Request(session, { ':path': '/metrics', authorization: basic(...USERS.metrics) }),
        h2Request(session, { ':path': '/metrics', authorization: basic(...USERS.health) }),
        h2Request(session, { ':path': '/health', authorization: basic(...USERS.health) }),
        h2Request(session, { ':path': '/echo/headers', cookie: 'a=1' }),
        h2Request(session, { ':path': '/api/v1/auth', ':method': 'POST', 'content-type': 'application/json' }, JSON.stringify({ username: 'alice', password: 'alice-pw' })),
      ]);
      assert.deepEqual([metrics.status, wrongRealm.status, health.status, upstream.status, login.status], [200, 401, 200, 200, 200]);
      assert.match(String(wrongRealm.headers['www-authenticate']), /^Basic realm="metricsAPI"/);
      const echoed = upstream.json() as { headers: Record<string, string>; httpVersion: string };
      assert.equal(echoed.httpVersion, '1.1', 'the upstream is spoken to in HTTP/1.1');
      assert.equal(echoed.headers.host, `localhost:${keepd.ports.front ?? 0}`, ':authority becomes Host');
      assert.equal(echoed.headers['x-forwarded-port'], String(keepd.ports.front));
    } finally {
      session.close();
    }
  });

  it('keeps the separate ports working', async () => {
    assert.equal((await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] })).status, 200);
    const direct = await request(`https://127.0.0.1:${keepd.ports.data ?? 0}/api/v1/auth`, { method: 'POST', body: { username: 'bob', password: 'bob-pw' } });
    assert.equal(direct.status, 200);
  });

  it('counts the upstream route\'s requests as the front listener\'s', async () => {
    const scraped = await request(url('/metrics'), { auth: [...USERS.metrics] });
    assert.match(scraped.body, /^keepd_http_requests_total\{listener="front",route="\/\*",method="GET",status="200"\} [1-9]/m);
  });
});

describe('the front listener, routed by host name, reloaded live', () => {
  let keepd: KeepdProcess;
  let dir: string;
  const get = (host: string, target: string, auth?: readonly [string, string]): ReturnType<typeof request> =>
    request(`https://127.0.0.1:${keepd.ports.front ?? 0}${target}`, { headers: { host }, ...(auth ? { auth: [...auth] } : {}) });

  before(async () => {
    dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      // A short whole-request deadline, to see a routed request keep its listener's.
      'ports.json': { ...TEST_BASE, limits: { requestTimeoutMs: 1000 } },
      'tls.json': TLS_CONFIGS.pem,
      'z-front.json': front([
        { host: 'keep.example.com', to: 'data' },
        { host: 'admin.example.com', to: 'management' },
      ]),
    });
    keepd = await startKeepd(dir, { expect: 5 });
  });
  after(async () => {
    await keepd.stop();
  });

  it('routes by Host: the data realm on keep.example.com, the management realm on admin.example.com', async () => {
    const whoami = await get('keep.example.com', '/api/whoami', USERS.data);
    assert.equal(whoami.status, 200);
    assert.equal((whoami.json() as { name: string }).name, USERS.data[0]);
    assert.equal((await get('KEEP.example.com.:443', '/api/whoami', USERS.data)).status, 200, 'case, root dot and port do not matter');
    assert.equal((await get('keep.example.com', '/api/whoami', USERS.management)).status, 401);
    assert.equal((await get('admin.example.com', '/info', USERS.management)).status, 200);
    assert.equal((await get('admin.example.com', '/info', USERS.data)).status, 401);
  });

  it('keeps the target listener\'s whole-request deadline: a management request trickling past it gets 408', async () => {
    const started = Date.now();
    const slow = await request(`https://127.0.0.1:${keepd.ports.front ?? 0}/encode`, { method: 'POST', headers: { host: 'admin.example.com' }, auth: [...USERS.management], trickle: { chunks: ['{"secret"', ':', '"x"', '}'], intervalMs: 700 } }).catch((error: unknown) => ({ status: 0, error }));
    assert.equal(slow.status, 408);
    assert.ok(Date.now() - started < 2000);
  });

  it('answers 400 to a Host that is no host name (it never matches a wildcard or reaches an upstream)', async () => {
    const answer = await rawRequest(keepd.ports.front ?? 0, Buffer.from('GET /api/whoami HTTP/1.1\r\nHost: evil/x.keep.example.com\r\n\r\n'));
    assert.equal(answer.status, 400, answer.raw);
  });

  it('answers 404 to a host no route names, revealing nothing', async () => {
    const missed = await get('other.example.com', '/info', USERS.management);
    assert.equal(missed.status, 404);
    assert.deepEqual(missed.json(), { statusCode: 404, error: 'Not Found', message: 'not found' });
    assert.equal(missed.headers['www-authenticate'], undefined);
  });

  it('takes new routes on a reload, and keeps its routes through a refused one', async () => {
    const applied = keepd.waitForLog((line) => /configuration generation 2 applied/.test(line.msg));
    await writeFile(path.join(dir, 'z-front.json'), JSON.stringify(front([{ host: 'keep.example.com', path: '/health', to: 'health' }, { host: 'keep.example.com', to: 'data' }])));
    await applied;
    assert.equal((await get('keep.example.com', '/health', USERS.health)).status, 200);
    assert.equal((await get('admin.example.com', '/info', USERS.management)).status, 404, 'the management route is gone');

    const refused = keepd.waitForLog((line) => /configuration refused/.test(line.msg));
    await writeFile(path.join(dir, 'z-off.json'), JSON.stringify({ listeners: { health: { enabled: false } } }));
    const line = await refused;
    assert.match(line.msg, /listeners\.front\.routes\[0\]\.to: routes to the health listener, which is off/);
    assert.equal((await get('keep.example.com', '/health', USERS.health)).status, 200, 'still the last good routes');
  });
});

describe('a reload sent through the front listener that moves the front listener', () => {
  it('is answered before the old port closes, and the new port serves', async () => {
    const frontOn = (port: number): object => ({ listeners: { front: { enabled: true, port, routes: [{ to: 'management' }] } } });
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': { ...TEST_BASE, watch: { enabled: false } }, 'tls.json': TLS_CONFIGS.pem, 'z-front.json': frontOn(0) });
    const keepd = await startKeepd(dir, { expect: 5 });
    try {
      const next = await freePort();
      await writeFile(path.join(dir, 'z-front.json'), JSON.stringify(frontOn(next)));
      const moved = keepd.waitForLog((line) => line.listener === 'front' && line.port === next);
      const reload = await request(`https://127.0.0.1:${keepd.ports.front ?? 0}/reload`, { method: 'POST', auth: [...USERS.management] });
      assert.equal(reload.status, 200, reload.body);
      assert.match(reload.body, /front: rebind/);
      await moved;
      assert.equal((await request(`https://127.0.0.1:${next}/info`, { auth: [...USERS.management] })).status, 200);
    } finally {
      await keepd.stop();
    }
  });
});

describe('keepd check: a front listener that cannot work', () => {
  it('names a route to a listener that is off, and an empty route list', async () => {
    const dir = await tempDir({
      'ports.json': TEST_BASE,
      'z-front.json': { listeners: { front: { enabled: true, routes: [{ path: '/metrics', to: 'metrics' }] } }, metrics: { enabled: false } },
    });
    const run = await runCli(['check', '--config-dir', dir]);
    assert.notEqual(run.code, 0);
    assert.match(run.stdout + run.stderr, /listeners\.front\.routes\[0\]\.to.*routes to the metrics listener, which is off: set metrics\.enabled/);

    const empty = await tempDir({ 'ports.json': TEST_BASE, 'z-front.json': { listeners: { front: { enabled: true } } } });
    const none = await runCli(['check', '--config-dir', empty]);
    assert.notEqual(none.code, 0);
    assert.match(none.stdout + none.stderr, /listeners\.front\.routes.*is empty/);
  });
});
