import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, WebSocket } from 'undici';
import { startGateway, type Gateway } from './helpers/gateway-setup.js';
import { request, TEST_CA } from './helpers/http-client.js';
import { USERS } from './helpers/test-config.js';

type Headers = Record<string, string | undefined>;

const echoed = async (gw: Gateway, options: Parameters<typeof request>[1]): Promise<{ status: number; headers: Headers }> => {
  const response = await request(gw.data('/echo/headers'), options);
  return { status: response.status, headers: response.status === 200 ? (response.json() as { headers: Headers }).headers : {} };
};

describe('gateway: functional mode (keepd authenticates, the product trusts its headers)', () => {
  let gw: Gateway;
  before(async () => {
    const { createSecret } = await import('../src/accounts/secret.js');
    gw = await startGateway({ upstream: { auth: 'functional' }, extra: { identity: { singleDbModeUsers: { 'Lone CN': { active: true, CN: 'CN=\udfff', secret: await createSecret('lone-pw') } } } } });
  });
  after(async () => {
    await gw.keepd.stop();
    await gw.product.close();
  });

  it('without an account of singleDbModeUsers: 401 from keepd, nothing reaches the product', async () => {
    const echoes = (): number => gw.product.seen.filter((r) => r.url === '/echo/headers').length;
    const seen = echoes();
    const response = await request(gw.data('/echo/headers'));
    assert.equal(response.status, 401);
    assert.match(response.headers['www-authenticate'] ?? '', /Basic realm="singleDbModeUsers"/);
    assert.equal((await request(gw.data('/echo/headers'), { auth: [USERS.data[0], 'wrong'] })).status, 401);
    assert.equal((await request(gw.data('/echo/headers'), { auth: [...USERS.health] })).status, 401, 'a health account is not a data account');
    assert.equal(echoes(), seen, 'nothing reached the product');
  });

  it('with one: Authorization removed, the identity forwarded (percent-encoded), forged identity headers dropped', async () => {
    const { status, headers } = await echoed(gw, { auth: [...USERS.data], headers: { 'x-forwarded-user': 'admin', 'x-forwarded-user-cn': 'CN=Admin' } });
    assert.equal(status, 200);
    assert.equal(headers.authorization, undefined);
    assert.equal(headers['x-forwarded-user'], encodeURIComponent(USERS.data[0]));
    assert.notEqual(headers['x-forwarded-user-cn'], 'CN=Admin');
  });

  it('an account whose CN UTF-8 cannot hold (a lone surrogate) is forwarded with U+FFFD; keepd stays up', async () => {
    const { headers, status } = await echoed(gw, { auth: ['Lone CN', 'lone-pw'] });
    assert.equal(status, 200);
    assert.equal(headers['x-forwarded-user-cn'], 'CN%3D%EF%BF%BD');
  });

  it('WebSocket upgrades need the account too', async () => {
    const dispatcher = new Agent({ connect: { ca: TEST_CA, servername: 'localhost' } });
    const url = gw.data('/api/v1/events').replace('https:', 'wss:');
    const refused = await new Promise<string>((resolve) => {
      const socket = new WebSocket(url, { dispatcher });
      socket.addEventListener('open', () => resolve('open'));
      socket.addEventListener('error', () => resolve('refused'));
    });
    assert.equal(refused, 'refused');
    const authorization = `Basic ${Buffer.from(`${USERS.data[0]}:${USERS.data[1]}`).toString('base64')}`;
    const socket = new WebSocket(url, { dispatcher, headers: { authorization } });
    const echo = await new Promise<unknown>((resolve, reject) => {
      socket.addEventListener('open', () => socket.send('ping'));
      socket.addEventListener('message', (event) => resolve(event.data));
      socket.addEventListener('error', () => reject(new Error('websocket error')));
    });
    assert.equal(echo, 'ping');
    socket.close();
    await dispatcher.close();
  });
});

describe('gateway: trustedProxies', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ extra: { trustedProxies: ['127.0.0.2', '10.0.0.0/8'] } });
  });
  after(async () => {
    await gw.keepd.stop();
    await gw.product.close();
  });

  it('from a trusted proxy: the client is the first untrusted hop of X-Forwarded-For, and the chain grows by the peer', async () => {
    const { headers } = await echoed(gw, { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '198.51.100.7, 10.1.2.3', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'keep.example.com' } });
    assert.equal(headers['x-real-ip'], '198.51.100.7');
    assert.equal(headers['x-forwarded-for'], '198.51.100.7, 10.1.2.3, 127.0.0.2');
    assert.equal(headers['x-forwarded-host'], 'keep.example.com', 'a trusted proxy’s own forwarding headers are kept');
  });

  it('from anyone else: X-Forwarded-* are the peer’s, whatever it claims', async () => {
    const { headers } = await echoed(gw, { localAddress: '127.0.0.3', headers: { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-host': 'evil.example.com' } });
    assert.equal(headers['x-real-ip'], '127.0.0.3');
    assert.equal(headers['x-forwarded-for'], '127.0.0.3');
    assert.notEqual(headers['x-forwarded-host'], 'evil.example.com');
  });

  it('the login throttle counts the client behind the proxy, not the proxy (data and management listeners)', async () => {
    const via = (client: string) => ({ localAddress: '127.0.0.2', headers: { 'x-forwarded-for': client } });
    const guess = (client: string) => request(gw.data('/api/v1/auth'), { method: 'POST', body: { username: `nobody-${client}`, password: 'x' }, ...via(client) });
    for (let i = 0; i < 4; i++) assert.equal((await guess('198.51.100.20')).status, 401);
    assert.equal((await guess('198.51.100.20')).status, 429);
    assert.equal((await guess('198.51.100.21')).status, 401, 'another client behind the same proxy is not blocked');
    // On a Fastify listener too: the management realm, same proxy.
    const mgmt = `https://127.0.0.1:${gw.keepd.ports.management ?? 0}/info`;
    for (let i = 0; i < 4; i++) assert.equal((await request(mgmt, { auth: [USERS.management[0], 'wrong'], ...via('198.51.100.30') })).status, 401);
    assert.equal((await request(mgmt, { auth: [...USERS.management], ...via('198.51.100.30') })).status, 429);
    assert.equal((await request(mgmt, { auth: [...USERS.management], ...via('198.51.100.31') })).status, 200);
  });
});
