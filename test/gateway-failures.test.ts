import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { startGateway, type Gateway } from './helpers/gateway-setup.js';
import { request, TEST_CA } from './helpers/http-client.js';
import { startProductStandIn, type ProductStandIn } from './helpers/product-stand-in.js';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';
import { tlsFixture, USERS } from './helpers/test-config.js';

interface Failure {
  statusCode: number;
  error: string;
  message: string;
}

/** GET on a kept-alive agent: the status, the body, and which local port (connection) carried it. */
function viaAgent(agent: HttpsAgent, url: string): Promise<{ status: number; body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { agent, ca: TEST_CA, servername: 'localhost' }, (res) => {
      const localPort = res.socket.localPort ?? 0;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (piece: string) => (body += piece));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, localPort }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('gateway: the product down, slow, moved', () => {
  let gw: Gateway;
  let second: ProductStandIn;
  before(async () => {
    gw = await startGateway({ upstream: { responseTimeoutMs: 400, probe: { path: '/hello', intervalSeconds: 1, timeoutMs: 300 } } });
    second = await startProductStandIn();
  });
  after(async () => {
    await gw.keepd.stop();
    await gw.product.close();
    await second.close();
  });

  it('too slow: 504 naming the product, and the product’s request is given up', async () => {
    const response = await request(gw.data('/slow?ms=5000'));
    assert.equal(response.status, 504);
    const body = response.json() as Failure;
    assert.equal(body.error, 'Gateway Timeout');
    assert.match(body.message, new RegExp(`the product at ${gw.product.url} did not answer within 400 ms`));
    assert.doesNotMatch(response.body, /at .+\.js:\d+/, 'no stack');
    await gw.product.waitForAbort('/slow');
    assert.equal((await request(gw.health('/health/ready'), { auth: [...USERS.health] })).status, 200, 'one slow request is not an outage');
    assert.equal((await request(gw.data('/hello'))).body, 'hello world\n', 'keepd carries on');
  });

  it('down: 502 JSON, /health and /health/ready 503, /health/live 200; back: served again without keepd doing anything', async () => {
    await gw.product.stop();
    const response = await request(gw.data('/hello'));
    assert.equal(response.status, 502);
    const body = response.json() as Failure;
    assert.deepEqual([body.statusCode, body.error], [502, 'Bad Gateway']);
    assert.match(body.message, /refused the connection: is it running\?/);
    const health = await request(gw.health(), { auth: [...USERS.health] });
    assert.equal(health.status, 503);
    const upstream = (health.json() as { components: { upstream: { status: string; reachable: boolean; lastError: { message: string } } } }).components.upstream;
    assert.deepEqual([upstream.status, upstream.reachable], ['failing', false]);
    assert.match(upstream.lastError.message, /refused the connection/);
    const ready = await request(gw.health('/health/ready'), { auth: [...USERS.health] });
    assert.equal(ready.status, 503);
    assert.match((ready.json() as { reasons: string[] }).reasons.join(), /unreachable/);
    assert.equal((await request(gw.health('/health/live'), { auth: [...USERS.health] })).status, 200);
    const metrics = (await request(gw.metrics(), { auth: [...USERS.metrics] })).body;
    assert.match(metrics, /keepd_upstream_up 0/);
    assert.match(metrics, /keepd_upstream_requests_total\{outcome="unreachable"\} [1-9]/);
    await gw.keepd.waitForLog((line) => /the product is unreachable/.test(line.msg));

    await gw.product.restart();
    assert.equal((await request(gw.data('/hello'))).status, 200);
    // The probe (every second here) and the good request both say so.
    await eventually(async () => assert.equal((await request(gw.health('/health/ready'), { auth: [...USERS.health] })).status, 200));
    await gw.keepd.waitForLog((line) => /answers again/.test(line.msg));
  });

  it('a reload that moves the upstream keeps client connections and lets requests under way finish', async () => {
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    const first = await viaAgent(agent, gw.data('/echo/headers'));
    assert.equal(first.status, 200);
    const slowAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    const slow = viaAgent(slowAgent, gw.data('/slow?ms=300'));
    await gw.product.waitForRequest('/slow');
    const echoes = (): number => second.seen.filter((r) => r.url === '/echo/headers').length;
    const seenBySecond = echoes();
    await writeFile(path.join(gw.dir, 'z-gateway.json'), JSON.stringify({ listeners: { data: { upstream: { url: second.url, responseTimeoutMs: 400 } } } }));
    const applied = await gw.keepd.waitForLog((line) => /configuration generation \d+ applied/.test(line.msg));
    assert.ok((applied.changes as string[]).includes(`data: upstream ${gw.product.url} -> ${second.url}`), JSON.stringify(applied.changes));
    const next = await viaAgent(agent, gw.data('/echo/headers'));
    assert.equal(next.status, 200);
    assert.equal(next.localPort, first.localPort, 'the same connection to keepd');
    assert.equal(echoes(), seenBySecond + 1, 'the new upstream answered');
    const finished = await slow;
    assert.deepEqual([finished.status, JSON.parse(finished.body)], [200, { waited: 300 }], 'the request under way finished on the old upstream');
    agent.destroy();
    slowAgent.destroy();
  });
});

describe('gateway: configuration', () => {
  it('an upstream on keepd’s own data port is refused, naming the key', async () => {
    const dir = await tempDir({ 'a.json': { PORT: 18080, listeners: { data: { upstream: { url: 'http://localhost:18080' } } } } });
    const result = await runCli(['check', '--config-dir', dir]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr + result.stdout, /listeners\.data\.upstream\.url.*points at keepd's own data port 18080/s);
  });

  it('a bad url, auth or CA file is a clear problem', async () => {
    const dir = await tempDir({ 'a.json': { listeners: { data: { upstream: { url: 'ftp://x/y', auth: 'basic', caFile: 'missing.pem' } } }, trustedProxies: ['10.0.0.0/33'] } });
    const { stdout, stderr } = await runCli(['check', '--config-dir', dir]);
    const text = stdout + stderr;
    assert.match(text, /listeners\.data\.upstream\.url.*http or https, no path/);
    assert.match(text, /listeners\.data\.upstream\.auth.*"passthrough"/);
    assert.match(text, /trustedProxies\[0\].*prefix length from 0 to 32/);
  });
});

describe('gateway: an https upstream', () => {
  it('with caFile: verified and served; without: 502 naming caFile; a CA file that is not one: refused at load', async () => {
    const product = await startProductStandIn({ tls: { key: await readFile(tlsFixture('server.key.pem')), cert: await readFile(tlsFixture('server.chain.pem')) } });
    const gw = await startGateway({ upstream: { url: product.url, caFile: tlsFixture('ca.cert.pem') } });
    try {
      const hello = await request(gw.data('/hello'));
      assert.deepEqual([hello.status, hello.body], [200, 'hello world\n']);
      await writeFile(path.join(gw.dir, 'z-gateway.json'), JSON.stringify({ listeners: { data: { upstream: { url: product.url } } } }));
      await gw.keepd.waitForLog((line) => /configuration generation 2 applied/.test(line.msg));
      const untrusted = await request(gw.data('/hello'));
      assert.equal(untrusted.status, 502);
      assert.match((untrusted.json() as Failure).message, /certificate keepd does not trust .*caFile/);
      await writeFile(path.join(gw.dir, 'z-gateway.json'), JSON.stringify({ listeners: { data: { upstream: { url: product.url, caFile: tlsFixture('server.key.pem') } } } }));
      await gw.keepd.waitForLog((line) => /configuration refused/.test(line.msg) && /caFile.*not a PEM file of CA certificates/s.test(JSON.stringify(line)));
    } finally {
      await gw.keepd.stop();
      await gw.product.close();
      await product.close();
    }
  });
});
