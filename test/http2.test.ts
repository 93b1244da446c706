import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFile, rename } from 'node:fs/promises';
import { constants, type ClientHttp2Session, type Settings } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as connectTls, type PeerCertificate, type TLSSocket } from 'node:tls';
import { eventually } from './helpers/eventually.js';
import { basic, curlHttp2, h2Request, h2Session, RawH2 } from './helpers/h2.js';
import { request, TEST_CA } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { tempDir, writeFiles } from './helpers/temp-dir.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, tlsFixture, USERS } from './helpers/test-config.js';

type RealmListener = 'data' | 'health' | 'management' | 'metrics';
const LISTENERS: RealmListener[] = ['data', 'health', 'management', 'metrics'];
/** A route of each listener that an account of its realm may GET. */
const ROUTE: Record<RealmListener, string> = { data: '/api/whoami', health: '/health', management: '/info', metrics: '/metrics' };
/** An account of another realm: right password, wrong listener. */
const STRANGER: Record<RealmListener, readonly [string, string]> = { data: USERS.health, health: USERS.metrics, management: USERS.data, metrics: USERS.management };

const LIMITS = { maxStreamsPerConnection: 3, keepAliveTimeoutMs: 600, requestTimeoutMs: 1000 };

/** The subject CN of the certificate a TLS socket was shown. */
const cn = (certificate: PeerCertificate): string => [certificate.subject.CN].flat()[0] ?? '';
/** The subject CN of the certificate an HTTP/2 session was shown. */
const sessionCn = (session: ClientHttp2Session): string => {
  const certificate = (session.socket as Partial<TLSSocket>).getPeerCertificate?.();
  return certificate ? cn(certificate) : '';
};
/** Basic credentials of a listener's test account. */
const auth = (name: RealmListener): string => basic(USERS[name][0], USERS[name][1]);

function closeAll(sessions: ClientHttp2Session[]): void {
  for (const session of sessions) session.destroy();
}

describe('HTTP/2 on every TLS listener', () => {
  let keepd: KeepdProcess;
  let dir: string;
  const port = (name: RealmListener): number => keepd.ports[name] ?? 0;
  const url = (name: RealmListener, route = ROUTE[name]): string => `https://localhost:${port(name)}${route}`;

  before(async () => {
    dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      'ports.json': { ...TEST_BASE, LOG_LEVEL: 'debug', loginRateLimit: { exemptLoopback: false, maxFailures: 3 }, limits: LIMITS, listeners: { data: { limits: { maxConnectionsPerClient: 2 } } } },
      'tls.json': {
        TLSType: 'pem',
        TLSFile: 'key.pem',
        PEMCert: 'chain.pem',
        certificates: [{ TLSType: 'pem', TLSFile: tlsFixture('other.key.pem'), PEMCert: tlsFixture('other.cert.pem'), hostnames: ['keep.example.com'] }],
      },
    });
    await copyFile(tlsFixture('server.key.pem'), path.join(dir, 'key.pem'));
    await copyFile(tlsFixture('server.chain.pem'), path.join(dir, 'chain.pem'));
    keepd = await startKeepd(dir);
  });
  after(() => keepd.stop());

  it('curl --http2 on each listener: h2; its own account 200, another realm\'s 401 with WWW-Authenticate', async () => {
    for (const name of LISTENERS) {
      const own = await curlHttp2(url(name), ['-u', USERS[name].join(':')]);
      assert.deepEqual([own.version, own.status], ['2', 200], name);
      // From an address of its own: these failures count in the login throttle.
      const stranger = await curlHttp2(url(name), ['-u', STRANGER[name].join(':'), '--interface', '127.0.0.21']);
      assert.deepEqual([stranger.version, stranger.status], ['2', 401], name);
      assert.match(stranger.headers.get('www-authenticate')?.[0] ?? '', /^Basic realm="\w+", charset="UTF-8"$/, name);
      assert.equal(stranger.headers.get('strict-transport-security')?.[0], 'max-age=31536000', name);
    }
  });

  it('over HTTP/2 too, too many failures from one address get 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last = await curlHttp2(url('health'), ['-u', 'probe:wrong', '--interface', '127.0.0.22']);
    statuses.push(last.status);
    for (let i = 0; i < 4 && last.status !== 429; i++) {
      last = await curlHttp2(url('health'), ['-u', 'probe:wrong', '--interface', '127.0.0.22']);
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    assert.equal(last.version, '2');
    assert.match(last.headers.get('retry-after')?.[0] ?? '', /^\d+$/);
    // The right password from there is throttled too, on this listener only.
    assert.equal((await curlHttp2(url('health'), ['-u', USERS.health.join(':'), '--interface', '127.0.0.22'])).status, 429);
    assert.equal((await curlHttp2(url('metrics'), ['-u', USERS.metrics.join(':'), '--interface', '127.0.0.22'])).status, 200);
  });

  it('node:http2: several requests at once on one session of each listener', async () => {
    const sessions = await Promise.all(LISTENERS.map((name) => h2Session(port(name))));
    try {
      const answers = await Promise.all(
        LISTENERS.flatMap((name, index) => {
          const session = sessions[index];
          if (!session) throw new Error('no session');
          return [0, 1, 2].map(() => h2Request(session, { ':path': ROUTE[name], authorization: auth(name) }).then((answer) => [name, answer.status] as const));
        }),
      );
      assert.deepEqual(answers, LISTENERS.flatMap((name) => [[name, 200], [name, 200], [name, 200]]));
    } finally {
      closeAll(sessions);
    }
  });

  it('the debug access line says the request came over HTTP/2', async () => {
    const line = await keepd.waitForLog((l) => l.msg === 'request' && l.listener === 'management' && l.path === '/info' && l.status === 200);
    assert.equal(line.http, '2.0');
    assert.equal(line.remoteAddress, '127.0.0.1');
  });

  it('a stream over limits.maxStreamsPerConnection is refused (REFUSED_STREAM); the ones within it are served', async () => {
    const raw = await RawH2.open(port('management'));
    try {
      assert.equal(await raw.maxConcurrentStreams(), LIMITS.maxStreamsPerConnection);
      // POSTs whose bodies never come: each stream stays open, waiting for its body.
      const headers: [string, string][] = [[':method', 'POST'], [':scheme', 'https'], [':path', '/decode'], [':authority', 'localhost'], ['authorization', auth('management')], ['content-type', 'application/json'], ['content-length', '2']];
      raw.sendHeaders([1, 3, 5, 7].map((id) => ({ id, headers })), false);
      assert.equal(await raw.reset(7), constants.NGHTTP2_REFUSED_STREAM);
      assert.deepEqual(raw.resets().map((f) => f.streamId), [7], 'only the stream over the limit');
    } finally {
      raw.close();
    }
  });

  it('limits.maxConnectionsPerClient counts HTTP/2 connections: one over the share is closed on accept', async () => {
    const from = { localAddress: '127.0.0.23' };
    const sessions = [await h2Session(port('data'), from), await h2Session(port('data'), from)];
    try {
      // Closed by keepd on accept, before any TLS: nothing needs to be sent.
      const third = connectTcp({ host: '127.0.0.1', port: port('data'), localAddress: from.localAddress });
      third.on('error', () => undefined);
      await once(third, 'close');
      // The others serve on; once one is gone, there is room again.
      assert.equal((await h2Request(sessions[0] ?? assert.fail(), { ':path': '/api/whoami', authorization: auth('data') })).status, 200);
      sessions.pop()?.destroy();
      const again = await eventually(() => h2Session(port('data'), from), 5000, 50);
      sessions.push(again);
      assert.equal((await h2Request(again, { ':path': '/api/whoami', authorization: auth('data') })).status, 200);
    } finally {
      closeAll(sessions);
    }
  });

  it('a header list over limits.maxHeaderBytes: that stream is reset, the session serves on', async () => {
    const session = await h2Session(port('health'));
    try {
      const big = h2Request(session, { ':path': '/health', authorization: auth('health'), 'x-big': 'a'.repeat(20_000) });
      // node resets it with ENHANCE_YOUR_CALM, or nghttp2 first with INTERNAL_ERROR, as the frames' reads fall.
      await assert.rejects(big, /NGHTTP2_(ENHANCE_YOUR_CALM|INTERNAL_ERROR)/);
      assert.equal((await h2Request(session, { ':path': '/health', authorization: auth('health') })).status, 200);
    } finally {
      session.destroy();
    }
  });

  it('an idle session is closed with GOAWAY (NO_ERROR) after limits.keepAliveTimeoutMs', async () => {
    const session = await h2Session(port('metrics'));
    const goaway = once(session, 'goaway');
    const closed = once(session, 'close');
    assert.equal((await h2Request(session, { ':path': '/metrics', authorization: auth('metrics') })).status, 200);
    const idleSince = Date.now();
    const [code] = (await goaway) as [number];
    assert.equal(code, constants.NGHTTP2_NO_ERROR);
    assert.ok(Date.now() - idleSince >= LIMITS.keepAliveTimeoutMs - 50, `closed after ${Date.now() - idleSince} ms`);
    await closed;
  });

  it('a session that brings no request is closed with GOAWAY after the headers timeout (as a first request\'s head is timed)', async () => {
    const session = await h2Session(port('data'));
    const opened = Date.now();
    const [code] = (await once(session, 'goaway')) as [number];
    assert.equal(code, constants.NGHTTP2_NO_ERROR);
    // limits.headersTimeoutMs, capped by requestTimeoutMs as node caps it for HTTP/1.1.
    assert.ok(Date.now() - opened >= LIMITS.requestTimeoutMs - 100, `closed after ${Date.now() - opened} ms`);
    await once(session, 'close');
  });

  it('limits.requestTimeoutMs per stream: a body that does not arrive in time gets 408, the session serves on', async () => {
    const session = await h2Session(port('management'));
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/decode', authorization: auth('management'), 'content-type': 'application/json' }, { endStream: false });
      stream.write('{"shutdownkey": ');
      const started = Date.now();
      const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
      assert.equal(headers[':status'], 408);
      assert.ok(Date.now() - started >= LIMITS.requestTimeoutMs - 100);
      stream.resume();
      await once(stream, 'close');
      assert.equal(stream.rstCode, constants.NGHTTP2_NO_ERROR, 'the client is told to stop sending, without error');
      assert.equal((await h2Request(session, { ':path': '/info', authorization: auth('management') })).status, 200);
    } finally {
      session.destroy();
    }
  });

  it('management over HTTP/2: GET /info says which listeners offer it; POST /reload', async () => {
    const session = await h2Session(port('management'));
    try {
      const credentials = { authorization: auth('management') };
      const info = (await h2Request(session, { ':path': '/info', ...credentials })).json() as { listeners: Record<string, { http2: boolean | null }> };
      assert.deepEqual(LISTENERS.map((name) => info.listeners[name]?.http2), [true, true, true, true]);
      const reload = await h2Request(session, { ':method': 'POST', ':path': '/reload', ...credentials });
      assert.equal(reload.status, 200);
      assert.equal((reload.json() as { status: string }).status, 'unchanged');
    } finally {
      session.destroy();
    }
  });

  it('limits.maxStreamsPerConnection is tuned live: new sessions and open ones get the new SETTINGS', async () => {
    const session = await h2Session(port('management'));
    try {
      const updated = new Promise<void>((resolve) => {
        session.on('remoteSettings', (settings: Settings) => {
          if (settings.maxConcurrentStreams === 5) resolve();
        });
      });
      await writeFiles(dir, { 'z-streams.json': { limits: { maxStreamsPerConnection: 5 } } });
      const reload = await h2Request(session, { ':method': 'POST', ':path': '/reload', authorization: auth('management') });
      assert.equal(reload.status, 200);
      await updated;
      const raw = await RawH2.open(port('health'));
      assert.equal(await raw.maxConcurrentStreams(), 5);
      raw.close();
    } finally {
      session.destroy();
    }
  });

  it('ALPN offers h2 on a name an SNI certificate serves, too', async () => {
    for (const [servername, subject] of [['keep.example.com', 'keepd other server'], ['localhost', 'keepd test server']] as const) {
      const socket: TLSSocket = connectTls({ host: '127.0.0.1', port: port('data'), servername, ca: TEST_CA, ALPNProtocols: ['h2', 'http/1.1'], checkServerIdentity: () => undefined });
      await once(socket, 'secureConnect');
      assert.deepEqual([socket.alpnProtocol, cn(socket.getPeerCertificate())], ['h2', subject], servername);
      socket.destroy();
    }
    const answer = await curlHttp2(`https://keep.example.com:${port('data')}/api/whoami`, ['--resolve', `keep.example.com:${port('data')}:127.0.0.1`, '--insecure', '-u', USERS.data.join(':')]);
    assert.deepEqual([answer.version, answer.status], ['2', 200]);
  });

  // Last: it changes the certificate.
  it('a renewed certificate reaches new HTTP/2 connections\' handshakes', async () => {
    const before = await h2Session(port('health'));
    assert.equal(sessionCn(before), 'keepd test server');
    before.destroy();
    // As certbot does: new files beside, then renamed over the old ones.
    await copyFile(tlsFixture('renewed.key.pem'), path.join(dir, 'key.pem.new'));
    await copyFile(tlsFixture('renewed.chain.pem'), path.join(dir, 'chain.pem.new'));
    await rename(path.join(dir, 'key.pem.new'), path.join(dir, 'key.pem'));
    await rename(path.join(dir, 'chain.pem.new'), path.join(dir, 'chain.pem'));
    await keepd.waitForLog((line) => /configuration generation \d+ applied/.test(line.msg) && JSON.stringify(line.changes).includes('swap-tls'));
    for (const name of LISTENERS) {
      const session = await h2Session(port(name));
      try {
        assert.equal(sessionCn(session), 'keepd test server (renewed)', name);
        assert.equal((await h2Request(session, { ':path': ROUTE[name], authorization: auth(name) })).status, 200, name);
      } finally {
        session.destroy();
      }
    }
  });
});

describe('http2: false', () => {
  let keepd: KeepdProcess;
  let dir: string;

  before(async () => {
    dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      'ports.json': { ...TEST_BASE, http2: false, listeners: { metrics: { http2: true } } },
      'tls.json': TLS_CONFIGS.pem,
    });
    keepd = await startKeepd(dir);
  });
  after(() => keepd.stop());

  it('keeps ALPN to http/1.1 (curl --http2 gets 1.1); a listeners.<name> block may turn it on for one', async () => {
    for (const name of LISTENERS) {
      const answer = await curlHttp2(`https://localhost:${keepd.ports[name] ?? 0}${ROUTE[name]}`, ['-u', USERS[name].join(':')]);
      assert.deepEqual([answer.version, answer.status], [name === 'metrics' ? '2' : '1.1', 200], name);
    }
    const info = (await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/info`, { auth: [...USERS.management] })).json() as { listeners: Record<string, { http2: boolean }> };
    assert.deepEqual(LISTENERS.map((name) => info.listeners[name]?.http2), [false, false, false, true]);
  });

  it('turned on by a reload: the listener is rebound as an HTTP/2 server', async () => {
    await writeFiles(dir, { 'z-http2.json': { listeners: { health: { http2: true } } } });
    const applied = await keepd.waitForLog((line) => /configuration generation \d+ applied/.test(line.msg) && JSON.stringify(line.changes).includes('http2 false -> true'));
    assert.ok(applied);
    const answer = await curlHttp2(`https://localhost:${keepd.ports.health ?? 0}/health`, ['-u', USERS.health.join(':')]);
    assert.deepEqual([answer.version, answer.status], ['2', 200]);
  });
});

describe('plain-http listeners, and the front listener routing to them over TLS', () => {
  let keepd: KeepdProcess;

  before(async () => {
    const dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      'ports.json': { ...TEST_BASE, listeners: { front: { enabled: true, port: 0, ...TLS_CONFIGS.pem, routes: [{ path: '/health', to: 'health' }] } } },
    });
    keepd = await startKeepd(dir, { expect: 5 });
  });
  after(() => keepd.stop());

  it('a plain-http listener speaks HTTP/1.1 (no h2c) and sends no HSTS', async () => {
    const answer = await curlHttp2(`http://127.0.0.1:${keepd.ports.health ?? 0}/health`, ['-u', USERS.health.join(':')]);
    assert.deepEqual([answer.version, answer.status], ['1.1', 200]);
    assert.equal(answer.headers.get('strict-transport-security'), undefined);
  });

  it('the same listener reached over TLS through the front listener: HTTP/2, with HSTS', async () => {
    const session = await h2Session(keepd.ports.front ?? 0);
    try {
      const answer = await h2Request(session, { ':path': '/health', authorization: auth('health') });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['strict-transport-security'], 'max-age=31536000');
      const refused = await h2Request(session, { ':path': '/health' });
      assert.deepEqual([refused.status, refused.headers['strict-transport-security']], [401, 'max-age=31536000']);
    } finally {
      session.destroy();
    }
  });
});
