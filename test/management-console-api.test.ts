import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSecret } from '../src/accounts/secret.js';
import { request, TEST_CA } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, tlsFixture, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const SHUTDOWN_KEY = 'stop-me-console';
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
const ADMIN = basic(...USERS.management);

interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** A real text/event-stream client: events as they come, parsed; next() waits for a matching one. */
interface SseClient {
  status: number;
  headers: Record<string, unknown>;
  next(match: (event: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

function sseParser(): { feed: (text: string) => void; next: SseClient['next']; end: () => void } {
  let buffer = '';
  const seen: SseEvent[] = [];
  const waiters: { match: (event: SseEvent) => boolean; resolve: (event: SseEvent) => void; reject: (error: Error) => void }[] = [];
  let ended = false;
  return {
    feed(text) {
      buffer += text;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const fields = block.split('\n').filter((line) => !line.startsWith(':'));
        if (fields.length === 0) continue;
        const event: SseEvent = { event: 'message', data: '' };
        for (const field of fields) {
          if (field.startsWith('event: ')) event.event = field.slice(7);
          else if (field.startsWith('id: ')) event.id = field.slice(4);
          else if (field.startsWith('data: ')) event.data += field.slice(6);
        }
        const waiter = waiters.find((w) => w.match(event));
        if (waiter) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        } else seen.push(event);
      }
    },
    next(match, timeoutMs = 10_000) {
      const index = seen.findIndex(match);
      if (index >= 0) return Promise.resolve(seen.splice(0, index + 1)[index] as SseEvent);
      if (ended) return Promise.reject(new Error('the stream ended'));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such event within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ match, resolve: (event) => (clearTimeout(timer), resolve(event)), reject });
      });
    },
    end() {
      ended = true;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error('the stream ended'));
    },
  };
}

/** GET an event stream over HTTP/1.1 (node:https). */
function sse11(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const parser = sseParser();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: TEST_CA, headers: { authorization: ADMIN, accept: 'text/event-stream', ...headers } }, (res) => {
      res.setEncoding('utf8');
      const ended = new Promise<void>((done) => res.once('close', () => (parser.end(), done())));
      res.on('data', (chunk: string) => parser.feed(chunk));
      resolve({ status: res.statusCode ?? 0, headers: res.headers, next: parser.next, ended, close: () => req.destroy() });
    });
    req.once('error', reject);
    req.end();
  });
}

/** GET an event stream over HTTP/2 (node:http2). */
function sse2(url: string): Promise<SseClient> {
  const target = new URL(url);
  const parser = sseParser();
  const session = http2Connect(target.origin, { ca: TEST_CA });
  return new Promise((resolve, reject) => {
    session.once('error', reject);
    const stream = session.request({ ':path': target.pathname + target.search, authorization: ADMIN });
    stream.setEncoding('utf8');
    stream.once('response', (headers) => {
      const ended = new Promise<void>((done) => stream.once('close', () => (parser.end(), session.close(), done())));
      stream.on('data', (chunk: string) => parser.feed(chunk));
      resolve({ status: Number(headers[':status']), headers, next: parser.next, ended, close: () => (stream.close(), session.close()) });
    });
    stream.once('error', reject);
  });
}

describe('management routes for the console', () => {
  let keepd: KeepdProcess;
  let dir: string;
  let users: object;
  let saltedShutdownKey: string;
  const mgmt = (route: string): string => `https://127.0.0.1:${keepd.ports.management ?? 0}${route}`;
  const asAdmin = { auth: [...USERS.management] as [string, string] };

  before(async () => {
    users = await functionalUsers();
    saltedShutdownKey = await createSecret(SHUTDOWN_KEY);
    dir = await tempDir({
      'functionalUsers.json': users,
      'ports.json': { ...TEST_BASE, loginRateLimit: { exemptLoopback: false, maxFailures: 2 } },
      'tls.json': { ...TLS_CONFIGS['pem-encrypted'] },
      'product.json': { shutdownkey: saltedShutdownKey, dance: 'tango', ldap: { bindPassword: 'ldap-secret-value' }, watch: { enabled: false } },
    });
    keepd = await startKeepd(dir);
  });
  after(() => keepd.stop());

  it('every new route asks for the management realm (401 without credentials)', async () => {
    for (const [method, route] of [['GET', '/log'], ['GET', '/log/stream'], ['GET', '/events'], ['GET', '/throttled'], ['POST', '/throttled/release'], ['GET', '/config/sources'], ['GET', '/support']] as const) {
      // From addresses of their own: the throttle applies to loopback here (failures would block the admin's).
      const response = await request(mgmt(route), { method, localAddress: '127.0.0.42', ...(method === 'POST' ? { body: {} } : {}) });
      assert.equal(response.status, 401, `${method} ${route}`);
    }
    const wrong = await request(mgmt('/support'), { auth: [...USERS.health], localAddress: '127.0.0.43' });
    assert.equal(wrong.status, 401, "another realm's account");
  });

  it('GET /log: the recent log lines, oldest first, filtered by level and limited', async () => {
    const response = await request(mgmt('/log'), asAdmin);
    assert.equal(response.status, 200);
    assert.equal(response.headers['cache-control'], 'no-store');
    const { lines } = response.json() as { lines: { level: number; msg: string; time: number }[] };
    assert.ok(lines.length > 0);
    assert.ok(lines.every((line) => line.level >= 30));
    assert.ok(lines.some((line) => / listener on https:\/\//.test(line.msg)), JSON.stringify(lines.slice(0, 3)));
    for (let i = 1; i < lines.length; i++) assert.ok((lines[i]?.time ?? 0) >= (lines[i - 1]?.time ?? 0), 'oldest first');
    const one = (await request(mgmt('/log?limit=1'), asAdmin)).json() as { lines: unknown[] };
    assert.equal(one.lines.length, 1);
    assert.deepEqual(one.lines[0], lines.at(-1));
    const errors = (await request(mgmt('/log?level=fatal'), asAdmin)).json() as { lines: unknown[] };
    assert.deepEqual(errors.lines, []);
    for (const bad of ['/log?level=loud', '/log?limit=0', '/log?limit=1001', '/log?limit=ten']) {
      const answer = await request(mgmt(bad), asAdmin);
      assert.equal(answer.status, 400, bad);
      assert.equal((answer.json() as { statusCode: number }).statusCode, 400);
    }
  });

  it('GET /config/sources: every leaf, masked as GET /config, with the layer that set it', async () => {
    const response = await request(mgmt('/config/sources'), asAdmin);
    assert.equal(response.status, 200);
    const { entries } = response.json() as { entries: { key: string; value: unknown; source: string }[] };
    const byKey = new Map(entries.map((entry) => [entry.key, entry]));
    assert.deepEqual(byKey.get('dance'), { key: 'dance', value: 'tango', source: 'product.json' });
    assert.deepEqual(byKey.get('TLSPassword'), { key: 'TLSPassword', value: '***', source: 'tls.json' });
    assert.deepEqual(byKey.get('shutdownkey'), { key: 'shutdownkey', value: '***', source: 'product.json' });
    assert.equal(byKey.get('HEALTHCHECKPORT')?.source, 'ports.json');
    assert.equal(byKey.get('drainTimeoutSeconds')?.source, 'default');
    for (const secret of ['changeit', 'ldap-secret-value', saltedShutdownKey, ...Object.values(USERS).map(([, password]) => password)]) assert.ok(!response.body.includes(secret));
  });

  it('GET /events: the state version at once, and again when a reload changes it (HTTP/1.1)', async () => {
    const events = await sse11(mgmt('/events'));
    try {
      assert.equal(events.status, 200);
      assert.match(String(events.headers['content-type']), /^text\/event-stream/);
      assert.equal(events.headers['cache-control'], 'no-store');
      assert.equal(events.headers['x-content-type-options'], 'nosniff');
      const first = JSON.parse((await events.next((e) => e.event === 'state')).data) as { stateVersion: number };
      assert.equal(typeof first.stateVersion, 'number');
      const reload = await request(mgmt('/reload'), { ...asAdmin, method: 'POST' });
      assert.equal(reload.status, 200);
      const later = await events.next((e) => e.event === 'state' && (JSON.parse(e.data) as { stateVersion: number }).stateVersion > first.stateVersion);
      assert.ok(later);
    } finally {
      events.close();
    }
  });

  it('GET /log/stream: the recent lines, then a line a reload logs as it is logged (HTTP/2)', async () => {
    const stream = await sse2(mgmt('/log/stream?level=info'));
    try {
      assert.equal(stream.status, 200);
      assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
      assert.equal(stream.headers['x-content-type-options'], 'nosniff');
      assert.equal(stream.headers['cache-control'], 'no-store');
      const seen = await stream.next((e) => e.event === 'log');
      await writeFile(path.join(dir, 'extra.json'), JSON.stringify({ salsa: 'yes' }));
      const reload = await request(mgmt('/reload'), { ...asAdmin, method: 'POST' });
      assert.equal((reload.json() as { status: string }).status, 'applied');
      // A reload ends the stream (its account may be gone); the client comes back after what it saw.
      await stream.ended;
      const again = await sse2(mgmt(`/log/stream?level=info&after=${seen.id ?? ''}`));
      const applied = await again.next((e) => e.event === 'log' && /configuration generation \d+ applied/.test((JSON.parse(e.data) as { msg: string }).msg));
      again.close();
      assert.equal((JSON.parse(applied.data) as { level: number }).level, 30);
      // An EventSource reconnecting with Last-Event-ID gets only the lines after it.
      const resumed = await sse11(mgmt('/log/stream?level=trace'), { 'last-event-id': String(Number(applied.id) - 1) });
      try {
        const first = await resumed.next((e) => e.event === 'log');
        assert.equal(first.id, applied.id);
      } finally {
        resumed.close();
      }
    } finally {
      stream.close();
    }
    const bad = await request(mgmt('/log/stream?level=chatty'), asAdmin);
    assert.equal(bad.status, 400);
  });

  it('GET /log gives the newest line\'s number: /log/stream?after= it sends only newer lines (a page shows each line once)', async () => {
    const { lastId } = (await request(mgmt('/log?level=trace&limit=1'), asAdmin)).json() as { lastId: number };
    assert.ok(lastId > 0);
    // A change applied: keepd logs it, after lastId.
    await writeFile(path.join(dir, 'extra.json'), JSON.stringify({ salsa: 'after' }));
    assert.equal(((await request(mgmt('/reload'), { ...asAdmin, method: 'POST' })).json() as { status: string }).status, 'applied');
    const stream = await sse11(mgmt(`/log/stream?level=trace&after=${lastId}`));
    try {
      const first = await stream.next((e) => e.event === 'log');
      assert.equal(Number(first.id), lastId + 1);
    } finally {
      stream.close();
    }
  });

  it('holds at most 16 event streams on the listener; the 17th gets 503 with Retry-After', async () => {
    const open = await Promise.all(Array.from({ length: 16 }, () => sse11(mgmt('/events'))));
    try {
      assert.deepEqual([...new Set(open.map((s) => s.status))], [200]);
      const refused = await request(mgmt('/events'), asAdmin);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '5');
    } finally {
      for (const stream of open) stream.close();
    }
  });

  it('GET /throttled lists a blocked client; POST /throttled/release lets it log in again', async () => {
    const health = `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;
    const from = { localAddress: '127.0.0.41' };
    for (let i = 0; i < 2; i++) assert.equal((await request(health, { ...from, auth: [USERS.health[0], 'wrong'] })).status, 401);
    assert.equal((await request(health, { ...from, auth: [...USERS.health] })).status, 429);
    const listed = (await request(mgmt('/throttled'), asAdmin)).json() as { clients: { listener: string; address: string; failures: number; blockedUntil: string }[] };
    const client = listed.clients.find((c) => c.address === '127.0.0.41');
    assert.ok(client, JSON.stringify(listed));
    assert.equal(client.listener, 'health');
    assert.equal(client.failures, 2);
    assert.ok(Date.parse(client.blockedUntil) > Date.now());
    assert.equal(new Date(client.blockedUntil).toISOString(), client.blockedUntil);

    const notThere = await request(mgmt('/throttled/release'), { ...asAdmin, method: 'POST', body: { listener: 'metrics', address: '127.0.0.41' } });
    assert.equal(notThere.status, 404);
    const notFound = notThere.json() as { statusCode: number; error: string; message: string };
    assert.equal(notFound.statusCode, 404);
    assert.match(notFound.message, /127\.0\.0\.41.*metrics/);
    for (const body of [{}, { listener: 'front', address: '127.0.0.41' }, { listener: 'health' }, 'not json']) {
      const answer = await request(mgmt('/throttled/release'), { ...asAdmin, method: 'POST', body });
      assert.equal(answer.status, 400, JSON.stringify(body));
    }
    const released = await request(mgmt('/throttled/release'), { ...asAdmin, method: 'POST', body: { listener: 'health', address: '127.0.0.41' } });
    assert.equal(released.status, 200);
    assert.deepEqual(released.json(), { released: true });
    assert.equal((await request(health, { ...from, auth: [...USERS.health] })).status, 200);
    const after = (await request(mgmt('/throttled'), asAdmin)).json() as { clients: { address: string }[] };
    assert.ok(!after.clients.some((c) => c.address === '127.0.0.41'));
  });

  it('GET /support: a .tar.gz the real tar unpacks, holding no secret of the configuration', async () => {
    // Something secret in the log's neighbourhood too: a login with a wrong password.
    await request(mgmt('/info'), { auth: [USERS.management[0], 'typed-the-wrong-secret'], localAddress: '127.0.0.44' });
    const download = await new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const req = httpsRequest(mgmt('/support'), { ca: TEST_CA, headers: { authorization: ADMIN } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.once('error', reject);
      req.end();
    });
    assert.equal(download.status, 200);
    assert.equal(download.headers['content-type'], 'application/gzip');
    assert.match(String(download.headers['content-disposition']), /^attachment; filename="keepd-support-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.tar\.gz"$/);
    const out = await mkdtemp(path.join(os.tmpdir(), 'keepd-support-'));
    try {
      await writeFile(path.join(out, 'support.tar.gz'), download.body);
      execFileSync('tar', ['-xzf', 'support.tar.gz'], { cwd: out });
      const names = (await readdir(out)).filter((name) => name !== 'support.tar.gz').sort();
      assert.deepEqual(names, ['config-sources.json', 'config.json', 'files.json', 'info.json', 'log.json', 'routes.json', 'versions.json']);
      const read = async (name: string): Promise<string> => readFile(path.join(out, name), 'utf8');
      const parsed: Record<string, unknown> = Object.fromEntries(await Promise.all(names.map(async (name): Promise<[string, unknown]> => [name, JSON.parse(await read(name)) as unknown])));
      assert.equal((parsed['config.json'] as { dance: string }).dance, 'tango');
      assert.ok(Array.isArray(parsed['config-sources.json']));
      assert.equal((parsed['info.json'] as { pid: number }).pid, keepd.child.pid);
      assert.ok(Array.isArray(parsed['log.json']) && (parsed['log.json'] as unknown[]).length > 0);
      assert.equal((parsed['versions.json'] as { node: string }).node, process.versions.node);
      const files = (parsed['files.json'] as { files: { name: string; size: number }[] }).files.map((file) => file.name);
      assert.ok(files.includes('functionalUsers.json') && files.includes('tls.json'), JSON.stringify(files));
      assert.ok('management' in (parsed['routes.json'] as object));

      const keyPem = await readFile(tlsFixture('server.key.encrypted.pem'), 'utf8');
      const keyLines = keyPem.split('\n').filter((line) => line.length > 40 && !line.startsWith('-----'));
      const salted = JSON.stringify(users).match(/[0-9A-Fa-f]{64}:[0-9A-Fa-f]{128}/g) ?? [];
      assert.ok(salted.length >= 8 && keyLines.length > 5);
      const secrets = [
        ...Object.values(USERS).map(([, password]) => password),
        'typed-the-wrong-secret', 'changeit', 'ldap-secret-value', SHUTDOWN_KEY, saltedShutdownKey, ...salted, ...keyLines,
        ...salted.map((secret) => secret.split(':')[0] ?? secret),
      ];
      for (const name of names) {
        const text = await read(name);
        for (const secret of secrets) assert.ok(!text.includes(secret), `${name} holds ${secret.slice(0, 12)}...`);
        assert.ok(!text.includes('PRIVATE KEY'), `${name} holds key material`);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('open event streams end when keepd stops: they do not hold up the drain', async () => {
    await writeFile(path.join(dir, 'drain.json'), JSON.stringify({ drainTimeoutSeconds: 60 }));
    assert.equal(((await request(mgmt('/reload'), { ...asAdmin, method: 'POST' })).json() as { status: string }).status, 'applied');
    const log = await sse11(mgmt('/log/stream'));
    const events = await sse2(mgmt('/events'));
    await events.next((e) => e.event === 'state');
    const started = Date.now();
    const shutdown = await request(mgmt('/shutdown'), { ...asAdmin, method: 'POST', body: { shutdownkey: SHUTDOWN_KEY } });
    assert.equal(shutdown.status, 202);
    await Promise.all([log.ended, events.ended]);
    assert.equal(await keepd.exited, 0);
    assert.ok(Date.now() - started < 20_000, `stopped in ${Date.now() - started} ms, not after the 60 s drain`);
  });
});
