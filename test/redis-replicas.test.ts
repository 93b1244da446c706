import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { request, type Response } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';
import { functionalUsers, TEST_BASE, USERS } from './helpers/test-config.js';
import { tempDir, writeFiles } from './helpers/temp-dir.js';

/*
 * Issue 16: two real keepd processes (replicas) sharing one real redis-server for their login
 * throttle, over real sockets. The Redis password must never show anywhere keepd writes or answers.
 */

const PASSWORD = 'Zq8x-redis-pw-77';
const ADMIN = { auth: [...USERS.management] as [string, string], localAddress: '127.0.0.90' };
const PROBE = { auth: [...USERS.health] as [string, string], localAddress: '127.0.0.91' };
const METRICS = { auth: [...USERS.metrics] as [string, string], localAddress: '127.0.0.92' };

const connected = (line: { msg: string }): boolean => line.msg.startsWith('login throttle: connected to Redis');
const wentDegraded = (line: { msg: string }): boolean => /^login throttle: Redis at \S+ failed \(/.test(line.msg);
const recovered = (line: { msg: string }): boolean => /^login throttle: Redis at \S+ answers again; counting in Redis$/.test(line.msg);

/*
 * Redis's timeout here: long enough that a loaded 2-core machine (the whole suite runs at once, and
 * a keepd whose event loop stalls sees its command's timer fire before the reply is read) never
 * trips it by itself, so every degraded state below is the test's doing.
 */
const TIMEOUT_MS = 1000;
/** What a login may take beyond the timeout: a PBKDF2 verification and HTTP, on a busy machine. */
const SLACK_MS = 1500;

async function replicaDir(redisUrl: string): Promise<string> {
  const throttle = { maxFailures: 10, windowSeconds: 60, exemptLoopback: false, store: { redis: { url: redisUrl, timeoutMs: TIMEOUT_MS } } };
  return tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'zz.json': { LOG_LEVEL: 'trace', loginRateLimit: throttle } });
}

const url = (keepd: KeepdProcess, listener: 'health' | 'management' | 'metrics', route: string): string => `${keepd.schemes[listener] ?? 'http'}://127.0.0.1:${keepd.ports[listener] ?? 0}${route}`;

/** A login on the health listener from `client`; with its time, to show nothing waits for a dead Redis. */
async function login(keepd: KeepdProcess, client: string, password: string): Promise<Response & { ms: number }> {
  const started = performance.now();
  const response = await request(url(keepd, 'health', '/health'), { auth: [USERS.health[0], password], localAddress: client });
  return { ...response, ms: performance.now() - started };
}

interface StoreComponent {
  status: string;
  url: string;
  state: string;
  error?: string;
}
async function storeHealth(keepd: KeepdProcess): Promise<{ overall: string; store: StoreComponent | undefined; body: string }> {
  const response = await request(url(keepd, 'health', '/health'), PROBE);
  assert.equal(response.status, 200, 'a degraded store does not make keepd fail');
  const body = response.json() as { status: string; components: { throttleStore?: StoreComponent } };
  return { overall: body.status, store: body.components.throttleStore, body: response.body };
}

async function metric(keepd: KeepdProcess, pattern: RegExp): Promise<number | undefined> {
  const text = (await request(url(keepd, 'metrics', '/metrics'), METRICS)).body;
  const found = pattern.exec(text)?.[1];
  return found === undefined ? undefined : Number(found);
}

function download(target: string): Promise<Buffer> {
  const authorization = `Basic ${Buffer.from(ADMIN.auth.join(':')).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(target, { headers: { authorization }, localAddress: ADMIN.localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve(Buffer.concat(chunks)));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('replicas share one login throttle through Redis', () => {
  let redis: RedisServer;
  let a: KeepdProcess;
  let b: KeepdProcess;

  before(async () => {
    redis = await startRedis({ password: PASSWORD });
    [a, b] = await Promise.all([startKeepd(await replicaDir(redis.url)), startKeepd(await replicaDir(redis.url))]);
    await Promise.all([a.waitForLog(connected), b.waitForLog(connected)]);
  });
  after(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  it('refuses the 11th failure from one client spread across both; a release on one lets it in on both', async () => {
    const client = '127.0.0.21';
    // The right credential verified once on each replica (from elsewhere): cached there from now on.
    for (const replica of [a, b]) assert.equal((await login(replica, '127.0.0.29', USERS.health[1])).status, 200);
    for (let i = 0; i < 10; i++) assert.equal((await login(i % 2 === 0 ? a : b, client, `guess-${i}`)).status, 401, `failure ${i + 1}`);
    for (const replica of [a, b]) {
      const refused = await login(replica, client, 'guess-11');
      assert.equal(refused.status, 429, 'the 11th failure is refused on either replica');
      assert.ok(Number(refused.headers['retry-after']) > 50);
    }
    // Its credential is in B's cache, but B saw the block: it asks Redis rather than the cache.
    assert.equal((await login(b, client, USERS.health[1])).status, 429, 'even the right password waits');

    const listed = (await request(url(a, 'management', '/throttled'), ADMIN)).json() as { clients: { listener: string; address: string; failures: number }[] };
    assert.deepEqual(listed.clients.map(({ listener, address, failures }) => ({ listener, address, failures })), [{ listener: 'health', address: client, failures: 10 }], 'replica A lists a block it never saw itself');

    const released = await request(url(a, 'management', '/throttled/release'), { ...ADMIN, method: 'POST', body: { listener: 'health', address: client } });
    assert.deepEqual(released.json(), { released: true });
    assert.equal((await login(b, client, USERS.health[1])).status, 200, 'released on B by a release on A');
    assert.equal((await login(a, client, USERS.health[1])).status, 200);
    const again = await request(url(b, 'management', '/throttled/release'), { ...ADMIN, method: 'POST', body: { listener: 'health', address: client } });
    assert.equal(again.status, 404, 'nothing left to release anywhere');
  });

  it('never asks Redis for a successful login served from the verification cache', async () => {
    const client = '127.0.0.22';
    // The first login of a credential is verified (and counted in Redis) on each replica.
    for (const replica of [a, b]) assert.equal((await login(replica, client, USERS.health[1])).status, 200);
    const before = await redis.commandCalls();
    for (let i = 0; i < 40; i++) assert.equal((await login(i % 2 === 0 ? a : b, client, USERS.health[1])).status, 200);
    const afterCalls = await redis.commandCalls();
    const used = Object.entries(afterCalls).filter(([command, calls]) => !['info', 'auth'].includes(command) && calls !== before[command]);
    assert.deepEqual(used, [], 'no command but this test\'s own INFO and AUTH');
  });

  it('keeps answering without Redis (down, then slow), shows it in /health and metrics, and counts in Redis again once it is back', async () => {
    await redis.kill();
    const client = '127.0.0.31';
    const first = await login(a, client, 'guess-0');
    assert.equal(first.status, 401);
    assert.ok(first.ms < SLACK_MS, `answered at once (Redis refuses connections): ${Math.round(first.ms)} ms`);
    await eventually(async () => assert.equal((await storeHealth(a)).store?.status, 'degraded'));
    const { overall, store, body } = await storeHealth(a);
    assert.equal(overall, 'degraded');
    assert.ok(store);
    assert.equal(store.url, `redis://:***@127.0.0.1:${redis.port}`);
    assert.equal(store.state, 'degraded');
    assert.ok(store.error !== undefined && store.error.length > 0);
    assert.ok(!body.includes(PASSWORD));
    assert.equal(await metric(a, /^keepd_throttle_store_up\{store="redis"\} (\d+)/m), 0);
    assert.ok(((await metric(a, /^keepd_throttle_store_errors_total\{store="redis"\} (\d+)/m)) ?? 0) >= 1);

    // Counted in the process meanwhile: the 11th failure is refused there too, every answer at once.
    for (let i = 1; i < 10; i++) {
      const failed = await login(a, client, `guess-${i}`);
      assert.equal(failed.status, 401);
      assert.ok(failed.ms < SLACK_MS, `answered in ${Math.round(failed.ms)} ms`);
    }
    assert.equal((await login(a, client, 'guess-10')).status, 429);
    assert.equal(a.logs.filter(wentDegraded).length, 1, 'logged once, not per request');

    await redis.start();
    await eventually(async () => assert.equal((await storeHealth(a)).store?.status, 'ok'), 10_000, 100);
    await a.waitForLog(recovered);
    assert.equal(await metric(a, /^keepd_throttle_store_up\{store="redis"\} (\d+)/m), 1);
    assert.equal((await login(a, '127.0.0.32', 'guess-0')).status, 401);
    // The failure is written after the answer went (a login never waits for it).
    await eventually(async () => assert.equal(await redis.command('GET', 'keepd:throttle:{health:127.0.0.32}:f'), '1', 'counted in Redis again'));

    redis.pause();
    try {
      const slow = await login(a, '127.0.0.33', 'guess-0');
      assert.equal(slow.status, 401);
      assert.ok(slow.ms >= TIMEOUT_MS - 50 && slow.ms < TIMEOUT_MS + SLACK_MS, `a Redis that does not answer costs its timeout, no more: ${Math.round(slow.ms)} ms`);
      const next = await login(a, '127.0.0.34', 'guess-0');
      assert.equal(next.status, 401);
      assert.ok(next.ms < SLACK_MS, `and then nothing: the store is degraded, logins do not wait for it (${Math.round(next.ms)} ms)`);
      const degraded = (await storeHealth(a)).store;
      assert.ok(degraded);
      assert.equal(degraded.status, 'degraded');
      assert.match(degraded.error ?? '', /timed out/i);
    } finally {
      redis.resume();
    }
    await eventually(async () => assert.equal((await storeHealth(a)).store?.status, 'ok'), 10_000, 100);
    const transitions = a.logs.filter((line) => line.msg.startsWith('login throttle')).map((line) => line.msg).join('\n');
    assert.equal(a.logs.filter(wentDegraded).length, 2, `one line per transition:\n${transitions}`);
    assert.equal(a.logs.filter(recovered).length, 2, `one line per transition:\n${transitions}`);
  });

  it('never shows the Redis password: /config, /config/sources, /info, /support, /health, the log', async () => {
    for (const replica of [a, b]) {
      const config = await request(url(replica, 'management', '/config'), ADMIN);
      assert.match(config.body, /redis:\/\/:\*\*\*@127\.0\.0\.1/);
      const answers = [
        config.body,
        (await request(url(replica, 'management', '/config/sources'), ADMIN)).body,
        (await request(url(replica, 'management', '/info'), ADMIN)).body,
        (await storeHealth(replica)).body,
        gunzipSync(await download(url(replica, 'management', '/support'))).toString('latin1'),
        replica.stdout(),
        replica.stderr(),
      ];
      assert.match(answers[2] ?? '', /"throttleStore":\{"status":"ok","store":"redis","url":"redis:\/\/:\*\*\*@/);
      for (const [index, text] of answers.entries()) assert.ok(!text.includes(PASSWORD), `answer ${index} shows the password`);
    }
  });
});

describe('loginRateLimit.store reloads live', () => {
  it('switches memory → Redis → another database → memory, closing the old client each time; a bad URL keeps the last good one', async () => {
    const redis = await startRedis({ password: PASSWORD });
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'zz.json': { loginRateLimit: { exemptLoopback: false } } });
    const keepd = await startKeepd(dir);
    const clients = async (): Promise<number> => (await redis.command('CLIENT', 'LIST')).split('\n').filter((line) => line.includes('name=keepd-throttle')).length;
    const edit = async (store: unknown, generation: number | undefined): Promise<void> => {
      await writeFiles(dir, { 'zz.json': { loginRateLimit: { exemptLoopback: false, store } } });
      if (generation !== undefined) await keepd.waitForLog((line) => line.msg.startsWith(`configuration generation ${generation} applied`));
    };
    try {
      assert.equal((await storeHealth(keepd)).store, undefined, 'no store component with "memory"');
      await edit({ redis: { url: redis.url, timeoutMs: TIMEOUT_MS } }, 2);
      await keepd.waitForLog(connected);
      assert.equal(await clients(), 1);
      assert.equal((await login(keepd, '127.0.0.51', 'guess')).status, 401);
      await eventually(async () => assert.equal(await redis.command('GET', 'keepd:throttle:{health:127.0.0.51}:f'), '1'));

      await edit({ redis: { url: `${redis.url}/1`, keyPrefix: 'replicas:', timeoutMs: TIMEOUT_MS } }, 3);
      await eventually(async () => assert.equal(await clients(), 1, 'the old client is closed'));
      await eventually(async () => assert.equal((await storeHealth(keepd)).store?.status, 'ok'));
      assert.equal((await login(keepd, '127.0.0.51', 'guess')).status, 401);
      await eventually(async () => assert.equal(await redis.commandIn(1, 'GET', 'replicas:{health:127.0.0.51}:f'), '1', 'counted in database 1, under the new prefix'));

      await edit({ redis: { url: `http://:${PASSWORD}@127.0.0.1:${redis.port}` } }, undefined);
      const refused = await keepd.waitForLog((line) => line.msg.startsWith('configuration refused'));
      assert.match(refused.msg, /loginRateLimit\.store\.redis\.url: expected a redis:\/\/ or rediss:\/\/ URL/);
      assert.ok(!JSON.stringify(refused).includes(PASSWORD));
      assert.equal((await storeHealth(keepd)).store?.status, 'ok', 'still counting in the last good store');
      assert.equal(await clients(), 1);

      await edit('memory', 4);
      await eventually(async () => assert.equal(await clients(), 0, 'back to memory: no client left'));
      assert.equal((await storeHealth(keepd)).store, undefined);
      assert.ok(!keepd.stdout().includes(PASSWORD) && !keepd.stderr().includes(PASSWORD));
    } finally {
      await keepd.stop();
    }
  });
});
