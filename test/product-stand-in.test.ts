import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { request, WebSocket as UndiciWebSocket, type Dispatcher } from 'undici';
import { WebSocket as WsClient } from 'ws';
import { request as httpsRequest, TEST_CA } from './helpers/http-client.js';
import { FIXTURES } from './helpers/paths.js';
import { expectedDownloadSha256, startProductStandIn, type ProductStandIn } from './helpers/product-stand-in.js';

async function json(response: Dispatcher.ResponseData): Promise<Record<string, unknown>> {
  return (await response.body.json()) as Record<string, unknown>;
}

async function login(standIn: ProductStandIn, username: string, password: string): Promise<Dispatcher.ResponseData> {
  return request(`${standIn.url}/api/v1/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
}

async function sha256Of(body: AsyncIterable<Buffer>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk);
  return hash.digest('hex');
}

/** Status of a `ws` client's upgrade attempt that the server refused. */
async function refusedUpgrade(url: string, headers: Record<string, string> = {}): Promise<number> {
  const ws = new WsClient(url, { headers });
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode?: number; resume: () => void }];
  res.resume();
  ws.on('error', () => undefined); // terminate() reports the handshake it cuts short
  ws.terminate();
  return res.statusCode ?? 0;
}

describe('product stand-in', () => {
  let standIn: ProductStandIn;
  before(async () => {
    standIn = await startProductStandIn();
  });
  after(async () => {
    await standIn.close();
  });

  it('logs in with a real HS256 JWT that userinfo accepts, and refuses others', async () => {
    const response = await login(standIn, 'alice', 'alice-pw');
    assert.equal(response.statusCode, 200);
    const body = await json(response);
    assert.equal(body.leeway, 5);
    assert.equal(body.expSeconds, 21600);
    const bearer = String(body.bearer);
    const [head = '', payload = ''] = bearer.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(head, 'base64url').toString()), { alg: 'HS256', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.CN, 'CN=alice/O=StandIn');
    assert.equal(typeof claims.iat, 'number');

    const info = await request(`${standIn.url}/api/v1/userinfo`, { headers: { authorization: `Bearer ${bearer}` } });
    assert.equal(info.statusCode, 200);
    assert.equal((await json(info)).CN, 'CN=alice/O=StandIn');

    const forged = `${bearer.slice(0, -4)}AAAA`;
    for (const authorization of [`Bearer ${forged}`, undefined]) {
      const refused = await request(`${standIn.url}/api/v1/userinfo`, { headers: authorization ? { authorization } : {} });
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.headers['www-authenticate'], 'Bearer');
      assert.equal((await json(refused)).status, 401);
    }
    const logout = await request(`${standIn.url}/api/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${bearer}` } });
    assert.equal(logout.statusCode, 200);
    assert.deepEqual(await json(logout), {});

    const malformed = await request(`${standIn.url}/api/v1/auth`, { method: 'POST', body: '{"username":' });
    assert.equal(malformed.statusCode, 400);
    await malformed.body.dump();
  });

  it('locks an account after 5 wrong passwords, even against the right one', async () => {
    const before = standIn.authAttempts;
    for (let i = 0; i < 5; i++) {
      const wrong = await login(standIn, 'bob', 'guess');
      assert.equal(wrong.statusCode, 401);
      assert.deepEqual(await json(wrong), { status: 401, message: 'Invalid credentials or account locked' });
    }
    const locked = await login(standIn, 'bob', 'bob-pw');
    assert.equal(locked.statusCode, 401);
    await locked.body.dump();
    assert.equal(standIn.authAttempts - before, 6);
  });

  it('hashes a 5 MiB upload streamed in chunks', async () => {
    const hash = createHash('sha256');
    function* chunks(): Generator<Buffer> {
      for (let i = 0; i < 80; i++) {
        const chunk = randomBytes(64 * 1024);
        hash.update(chunk);
        yield chunk;
      }
    }
    const response = await request(`${standIn.url}/upload`, { method: 'PUT', body: Readable.from(chunks()) });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(await json(response), { bytes: 80 * 64 * 1024, sha256: hash.digest('hex') });
  });

  it('streams downloads with and without content-length', async () => {
    const bytes = 3_000_001;
    const sized = await request(`${standIn.url}/download?bytes=${bytes}`);
    assert.equal(sized.headers['content-length'], String(bytes));
    assert.equal(await sha256Of(sized.body), expectedDownloadSha256(bytes));

    const chunked = await request(`${standIn.url}/download?bytes=${bytes}&chunked=1`);
    assert.equal(chunked.headers['content-length'], undefined);
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    assert.equal(await sha256Of(chunked.body), expectedDownloadSha256(bytes));
  });

  it('answers redirects, statuses, hop-by-hop headers, echo, hello and 404', async () => {
    const redirect = await request(`${standIn.url}/redirect`);
    assert.equal(redirect.statusCode, 302);
    assert.equal(redirect.headers.location, 'https://other.example.com:8880/api/v1/userinfo?scope=x');
    await redirect.body.dump();
    const relative = await fetch(`${standIn.url}/relative-redirect`, { redirect: 'manual' });
    assert.equal(relative.status, 302);
    assert.equal(relative.headers.get('location'), '/api/v1/userinfo');
    await relative.body?.cancel();

    const status = await request(`${standIn.url}/status/503`);
    assert.equal(status.statusCode, 503);
    assert.deepEqual(await json(status), { status: 503 });

    const hop = await request(`${standIn.url}/set-headers`);
    assert.equal(hop.headers['x-product'], 'yes');
    assert.equal(hop.headers['x-drop-me'], '1');
    assert.equal(hop.headers['keep-alive'], 'timeout=5');
    await hop.body.dump();

    const echo = await request(`${standIn.url}/echo/headers?x=1`, { method: 'POST', headers: { 'X-Forwarded-For': '10.1.2.3' }, body: 'ignored' });
    const echoed = await json(echo);
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.url, '/echo/headers?x=1');
    assert.equal((echoed.headers as Record<string, string>)['x-forwarded-for'], '10.1.2.3');
    assert.ok((echoed.rawHeaders as string[]).includes('X-Forwarded-For'));
    assert.equal(echoed.httpVersion, '1.1');

    const hello = await request(`${standIn.url}/hello`);
    assert.equal(hello.headers['content-type'], 'text/plain');
    assert.equal(await hello.body.text(), 'hello world\n');

    const missing = await request(`${standIn.url}/nowhere`);
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(await json(missing), { status: 404, message: 'not found' });
    assert.equal(standIn.seen.at(-1)?.url, '/nowhere');
  });

  it('echoes text and binary on the event bus WebSocket, and refuses other upgrades', async () => {
    const ws = new UndiciWebSocket(`${standIn.url.replace('http', 'ws')}/api/v1/events`);
    ws.binaryType = 'arraybuffer';
    await once(ws, 'open');
    const next = async (): Promise<unknown> => ((await once(ws, 'message')) as [MessageEvent])[0].data;
    const text = next();
    ws.send('hello bus');
    assert.equal(await text, 'hello bus');
    const binary = next();
    ws.send(new Uint8Array([0, 1, 2, 255]));
    const data = await binary;
    assert.ok(data instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(data)], [0, 1, 2, 255]);
    ws.close();
    await once(ws, 'close');

    const wsBase = standIn.url.replace('http', 'ws');
    assert.equal(await refusedUpgrade(`${wsBase}/elsewhere`), 404);
    assert.equal(await refusedUpgrade(`${wsBase}/api/v1/events?auth=required`), 401);
    const bearer = String((await json(await login(standIn, 'alice', 'alice-pw'))).bearer);
    const authed = new WsClient(`${wsBase}/api/v1/events?auth=required`, { headers: { authorization: `Bearer ${bearer}` } });
    await once(authed, 'open');
    authed.close();
    await once(authed, 'close');
  });

  it('records a client abort of /slow and of a stalled body', async () => {
    const controller = new AbortController();
    const slow = request(`${standIn.url}/slow?ms=5000`, { signal: controller.signal });
    await standIn.waitForRequest('/slow');
    controller.abort();
    await assert.rejects(slow);
    await standIn.waitForAbort('/slow');
    assert.equal(standIn.aborted.get('/slow'), 1);

    const stalled = await request(`${standIn.url}/stall-body`);
    assert.equal(stalled.statusCode, 200);
    const reader = stalled.body[Symbol.asyncIterator]();
    assert.equal(String((await reader.next()).value), 'first chunk\n');
    stalled.body.destroy();
    await standIn.waitForAbort('/stall-body');
  });
});

describe('product stand-in going down and coming back', () => {
  it('refuses connections after stop() and answers on the same port after restart()', async () => {
    const standIn = await startProductStandIn();
    try {
      const { port, url } = standIn;
      // A pooled keep-alive connection that stop() must destroy.
      const first = await request(`${url}/hello`);
      assert.equal(await first.body.text(), 'hello world\n');
      const stalled = await request(`${url}/stall-body`);
      await standIn.stop();
      await assert.rejects(stalled.body.text());
      await assert.rejects(request(`${url}/hello`), { code: 'ECONNREFUSED' });
      assert.equal(standIn.aborted.get('/stall-body'), undefined, 'the stand-in closing is not a client abort');

      await standIn.restart();
      assert.equal(standIn.port, port);
      const again = await request(`${url}/hello`);
      assert.equal(await again.body.text(), 'hello world\n');
    } finally {
      await standIn.close();
    }
  });
});

describe('product stand-in over TLS', () => {
  it('serves https and wss, and stop() also cuts upgraded connections', async () => {
    const tlsDir = path.join(FIXTURES, 'tls');
    const tls = { key: readFileSync(path.join(tlsDir, 'server.key.pem')), cert: readFileSync(path.join(tlsDir, 'server.cert.pem')) };
    const standIn = await startProductStandIn({ tls });
    try {
      assert.match(standIn.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const hello = await httpsRequest(`${standIn.url}/hello`);
      assert.equal(hello.body, 'hello world\n');

      const ws = new WsClient(`${standIn.url.replace('https', 'wss')}/api/v1/events`, { ca: TEST_CA });
      await once(ws, 'open');
      const closed = once(ws, 'close');
      await standIn.stop();
      await closed;
      await standIn.restart();
      assert.equal((await httpsRequest(`${standIn.url}/hello`)).status, 200);
    } finally {
      await standIn.close();
    }
  });
});
