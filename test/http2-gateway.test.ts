import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { generated, startGateway, type Gateway } from './helpers/gateway-setup.js';
import { h2Request, h2Session } from './helpers/h2.js';
import { TEST_CA } from './helpers/http-client.js';
import { expectedDownloadSha256 } from './helpers/product-stand-in.js';

const MB20 = 20 * 1024 * 1024;

/** What the product stand-in's /echo/headers says it received. */
interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  rawHeaders: string[];
  httpVersion: string;
}

/** A request whose body is streamed from `body`; resolves with the status and the answer text. */
function h2Upload(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body: Readable): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'PUT', ...headers }, { endStream: false });
    let status = 0;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (answer) => (status = Number(answer[':status'])));
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve({ status, text }));
    stream.on('error', reject);
    body.pipe(stream);
  });
}

/** A download, hashed as it comes. */
function h2Download(session: ClientHttp2Session, path: string): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path });
    const hash = createHash('sha256');
    let status = 0;
    let bytes = 0;
    stream.on('response', (answer) => (status = Number(answer[':status'])));
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    stream.on('end', () => resolve({ status, bytes, sha256: hash.digest('hex') }));
    stream.on('error', reject);
  });
}

describe('the gateway over HTTP/2 (client h2, product HTTP/1.1)', () => {
  let gw: Gateway;
  let session: ClientHttp2Session;
  const port = (): number => gw.keepd.ports.data ?? 0;

  before(async () => {
    gw = await startGateway({ extra: { bodyHandler: { bodyLimit: 30 * 1024 * 1024 } } });
    session = await h2Session(port());
  });
  after(async () => {
    session.destroy();
    await gw.keepd.stop();
    await gw.product.close();
  });

  it('pseudo-headers are not forwarded; :authority is the Host; cookies split by HTTP/2 arrive joined', async () => {
    const answer = await h2Request(session, { ':path': '/echo/headers?x=1', cookie: ['a=1', 'b=2'], 'x-custom': 'yes' });
    assert.equal(answer.status, 200);
    const echo = answer.json() as Echo;
    assert.equal(echo.httpVersion, '1.1');
    assert.deepEqual([echo.method, echo.url], ['GET', '/echo/headers?x=1']);
    const names = echo.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
    assert.deepEqual(names.filter((name) => name.startsWith(':')), []);
    assert.deepEqual(names.filter((name) => name === 'cookie' || name === 'host').sort(), ['cookie', 'host']);
    assert.equal(echo.headers.cookie, 'a=1; b=2');
    assert.equal(echo.headers.host, `localhost:${port()}`);
    assert.equal(echo.headers['x-forwarded-host'], `localhost:${port()}`);
    assert.equal(echo.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.headers['x-custom'], 'yes');
  });

  it('a Host unlike the :authority is not forwarded (400)', async () => {
    const answer = await h2Request(session, { ':path': '/echo/headers', ':authority': `localhost:${port()}`, host: 'elsewhere.example' });
    assert.equal(answer.status, 400);
    assert.match((answer.json() as { message: string }).message, /:authority/);
  });

  it('the product\'s Set-Cookie fields stay separate; no reason phrase, no connection headers', async () => {
    const answer = await h2Request(session, { ':path': '/set-cookies' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    assert.equal(answer.headers['strict-transport-security'], 'max-age=31536000');
    // Keep-Alive and Connection from the product are dropped (HTTP/2 refuses them); the rest passes.
    const hop = await h2Request(session, { ':path': '/set-headers' });
    assert.deepEqual([hop.status, hop.headers['x-product'], hop.headers['x-drop-me'], hop.headers['keep-alive']], [200, 'yes', undefined, undefined]);
  });

  it('a body streamed up through keepd, with and without Content-Length (HTTP/2 ends it with the stream)', async () => {
    const sized = generated(MB20);
    const up = await h2Upload(session, { ':path': '/upload', 'content-length': String(MB20) }, sized.stream);
    assert.deepEqual([up.status, JSON.parse(up.text)], [200, { bytes: MB20, sha256: sized.sha256() }]);
    const unsized = generated(MB20);
    const upUnsized = await h2Upload(session, { ':path': '/upload' }, unsized.stream);
    assert.deepEqual([upUnsized.status, JSON.parse(upUnsized.text)], [200, { bytes: MB20, sha256: unsized.sha256() }]);
  });

  it('a large download streamed down, with and without Content-Length', async () => {
    assert.deepEqual(await h2Download(session, `/download?bytes=${MB20}`), { status: 200, bytes: MB20, sha256: expectedDownloadSha256(MB20) });
    assert.deepEqual(await h2Download(session, `/download?bytes=${MB20}&chunked=1`), { status: 200, bytes: MB20, sha256: expectedDownloadSha256(MB20) });
  });

  it('Expect: 100-continue over HTTP/2: the body is let in once keepd\'s checks pass; refused without it', async () => {
    const stream = session.request({ ':method': 'PUT', ':path': '/upload', expect: '100-continue', 'content-length': '1000' }, { endStream: false });
    await once(stream, 'continue');
    stream.end('x'.repeat(1000));
    const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
    let text = '';
    for await (const chunk of stream) text += String(chunk);
    assert.deepEqual([headers[':status'], JSON.parse(text)], [200, { bytes: 1000, sha256: createHash('sha256').update('x'.repeat(1000)).digest('hex') }]);
    // Over bodyHandler.bodyLimit: 413 at once, no 100 Continue, and the stream reset so the client stops.
    const refused = session.request({ ':method': 'PUT', ':path': '/upload', expect: '100-continue', 'content-length': String(40 * 1024 * 1024) }, { endStream: false });
    let continued = false;
    refused.on('continue', () => (continued = true));
    const [refusal] = (await once(refused, 'response')) as [IncomingHttpHeaders];
    refused.resume();
    await once(refused, 'close');
    assert.deepEqual([refusal[':status'], continued, refused.rstCode], [413, false, constants.NGHTTP2_NO_ERROR]);
  });

  it('CONNECT over HTTP/2 gets 405 (there is no extended CONNECT, so no WebSocket over h2); OPTIONS * gets 400; the session serves on', async () => {
    const connect = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' });
    const [headers] = (await once(connect, 'response')) as [IncomingHttpHeaders];
    assert.equal(headers[':status'], 405);
    connect.close();
    const star = await h2Request(session, { ':method': 'OPTIONS', ':path': '*' });
    assert.equal(star.status, 400);
    assert.equal((await h2Request(session, { ':path': '/hello' })).status, 200);
  });

  it('a failed login to the product over HTTP/2 counts in the login throttle: 429 with Retry-After', async () => {
    const login = (): Promise<{ status: number; headers: IncomingHttpHeaders }> =>
      h2Request(session, { ':method': 'POST', ':path': '/api/v1/auth', 'content-type': 'application/json' }, JSON.stringify({ username: 'alice', password: 'wrong' }));
    const statuses: number[] = [];
    let last = await login();
    statuses.push(last.status);
    while (last.status === 401 && statuses.length < 6) {
      last = await login();
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 429]);
    assert.match(String(last.headers['retry-after']), /^\d+$/);
  });

  it('WebSocket upgrades (HTTP/1.1) still work on this HTTP/2-capable TLS listener', async () => {
    const socket = new WebSocket(`wss://localhost:${port()}/api/v1/events`, { ca: TEST_CA });
    await once(socket, 'open');
    socket.send('ping over http/1.1');
    const [message] = (await once(socket, 'message')) as [Buffer];
    assert.equal(message.toString(), 'ping over http/1.1');
    socket.close();
    await once(socket, 'close');
  });
});

describe('the gateway over HTTP/2: a stop drains', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ extra: { drainTimeoutSeconds: 1 } });
  });
  after(async () => {
    await gw.keepd.stop();
    await gw.product.close();
  });

  it('SIGTERM: GOAWAY; a stream that ends within drainTimeoutSeconds finishes, one that does not is cut; keepd exits 0', async () => {
    const session = await h2Session(gw.keepd.ports.data ?? 0);
    session.on('error', () => undefined); // the cut
    const goaway = once(session, 'goaway');
    const quick = h2Request(session, { ':path': '/slow?ms=400' });
    const endless = h2Request(session, { ':path': '/slow?ms=10000' }).catch((error: unknown) => error);
    await gw.product.waitForRequest('/slow');
    await gw.product.waitForRequest('/slow');
    const exited = gw.keepd.stop('SIGTERM');
    const [code] = (await goaway) as [number];
    assert.equal(code, constants.NGHTTP2_NO_ERROR);
    const answer = await quick;
    assert.deepEqual([answer.status, answer.json()], [200, { waited: 400 }]);
    assert.ok((await endless) instanceof Error, 'the stream still open at the deadline was cut');
    assert.equal(await exited, 0);
    assert.ok(gw.keepd.logs.some((line) => line.msg.startsWith('drain time over; cut the remaining connections of data')));
    session.destroy();
  });
});
