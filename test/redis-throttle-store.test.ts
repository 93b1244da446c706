import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisThrottleStore, type ThrottleStoreStatus } from '../src/accounts/redis-throttle-store.js';
import { ClientThrottle } from '../src/accounts/shared-throttle.js';
import { BEGIN, FINISH, RELEASE } from '../src/accounts/throttle-scripts.js';
import { REDIS_STORE_DEFAULTS } from '../src/config/defaults.js';
import { eventually } from './helpers/eventually.js';
import { freePort } from './helpers/free-port.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

/*
 * The shared throttle's scripts against a real redis-server, two stores (two connections) standing
 * for two replicas, in this process: exact counts, without the noise of HTTP.
 */

const SETTINGS = { enabled: true, maxFailures: 10, windowSeconds: 60, exemptLoopback: false };
/** Redis's timeout: generous, so that a loaded machine never turns the exact counts below into local ones. */
const STORE = { ...REDIS_STORE_DEFAULTS, timeoutMs: 2000 };

describe('the shared login throttle in a real Redis', () => {
  let redis: RedisServer;
  const stores: RedisThrottleStore[] = [];
  const replica = (): { store: RedisThrottleStore; throttle: ClientThrottle; changes: string[] } => {
    const changes: string[] = [];
    const store = new RedisThrottleStore({ url: redis.url, ...STORE }, { error: () => undefined, changed: (transition) => changes.push(String(transition)) });
    stores.push(store);
    return { store, throttle: new ClientThrottle('data', () => SETTINGS, () => store), changes };
  };
  const ready = (store: RedisThrottleStore): Promise<void> => eventually(() => Promise.resolve(assert.equal(store.usable, true)), 5000);

  before(async () => {
    redis = await startRedis({ password: 'store-unit-pw' });
  });
  after(() => {
    for (const store of stores) store.close();
  });

  it('lets concurrent attempts from both replicas verify at most maxFailures, then blocks on both', async () => {
    const [a, b] = [replica(), replica()];
    await Promise.all([ready(a.store), ready(b.store)]);
    const client = '192.0.2.10';
    const attempts = await Promise.all(Array.from({ length: 30 }, async (_, i) => (i % 2 === 0 ? a : b).throttle.begin(client)));
    const counted = attempts.filter((attempt) => attempt.counted);
    assert.equal(counted.length, 10, 'exactly maxFailures verifications run at once');
    assert.ok(attempts.filter((attempt) => !attempt.counted).every((attempt) => attempt.wait >= 1));
    assert.equal(await redis.command('ZCARD', 'keepd:throttle:{data:192.0.2.10}:r'), ':10');
    const pendingTtl = Number((await redis.command('PTTL', 'keepd:throttle:{data:192.0.2.10}:r')).slice(1));
    assert.ok(pendingTtl > 0 && pendingTtl <= 60_000, `running attempts expire too (${pendingTtl} ms): a replica that dies leaves nothing for long`);
    attempts.forEach((attempt, i) => (i % 2 === 0 ? a : b).throttle.finish(client, 'admin', attempt.counted ? 'failure' : 'none', attempt));
    await eventually(async () => assert.equal(await redis.command('GET', 'keepd:throttle:{data:192.0.2.10}:f'), '10'));
    for (const { throttle } of [a, b]) {
      const refused = await throttle.begin(client);
      assert.equal(refused.counted, false);
      assert.ok(refused.wait > 50 && refused.wait <= 60, String(refused.wait));
      assert.equal(throttle.trustsCache(client), false, 'seen blocked: its cached logins ask Redis');
      assert.equal(throttle.trustsCache('192.0.2.11'), true);
      assert.equal(throttle.blockedClients(), 1);
    }
    assert.equal(await redis.command('EXISTS', 'keepd:throttle:{data:192.0.2.10}:r'), ':0', 'no attempt left running');
    for (const suffix of ['f', 'b', 'u']) {
      const ttl = Number((await redis.command('PTTL', `keepd:throttle:{data:192.0.2.10}:${suffix}`)).slice(1));
      assert.ok(ttl > 0 && ttl <= 60_000, `${suffix} expires (${ttl} ms)`);
    }
    const listed = await b.throttle.blockedList();
    assert.equal(listed.complete, true);
    assert.deepEqual(listed.clients.map(({ address, failures }) => ({ address, failures })), [{ address: client, failures: 10 }]);

    assert.equal(await a.throttle.release(client), 'released');
    assert.equal(await b.throttle.release(client), 'not-found', 'released everywhere already');
    const again = await b.throttle.begin(client);
    assert.deepEqual({ wait: again.wait, counted: again.counted }, { wait: 0, counted: true });
    assert.equal(b.throttle.trustsCache(client), true, 'Redis said it is not blocked any more');
    b.throttle.finish(client, 'admin', 'success', again);
    assert.deepEqual(a.changes, ['connected']);
  });

  it('clears failures on a success for the same account only', async () => {
    const { store, throttle } = replica();
    await ready(store);
    const fail = async (client: string, user: string): Promise<void> => throttle.finish(client, user, 'failure', await throttle.begin(client));
    await fail('192.0.2.20', 'alice');
    await fail('192.0.2.20', 'alice');
    await fail('192.0.2.21', 'alice');
    await fail('192.0.2.21', 'bob');
    await eventually(async () => assert.equal(await redis.command('GET', 'keepd:throttle:{data:192.0.2.21}:f'), '2'));
    throttle.finish('192.0.2.20', 'alice', 'success', await throttle.begin('192.0.2.20'));
    throttle.finish('192.0.2.21', 'alice', 'success', await throttle.begin('192.0.2.21'));
    await eventually(async () => assert.equal(await redis.command('EXISTS', 'keepd:throttle:{data:192.0.2.20}:f'), ':0'));
    assert.equal(await redis.command('GET', 'keepd:throttle:{data:192.0.2.21}:f'), '2', 'bob\'s failures stay');
  });

  it('an attempt that never finishes (its replica died, its FINISH was lost) stops counting after one window by itself', async () => {
    const { store } = replica();
    await ready(store);
    const client = '192.0.2.40';
    for (let i = 0; i < 3; i++) assert.deepEqual(await store.begin('data', client, 3, 400, `lost-${i}`), { blockMsLeft: 0, full: false });
    assert.deepEqual(await store.begin('data', client, 3, 400, 'refused'), { blockMsLeft: 0, full: true }, 'three running: the limit');
    // Later attempts do not keep the lost ones alive: each stops counting one window after it began.
    await eventually(async () => assert.deepEqual(await store.begin('data', client, 3, 400, `later-${Date.now()}`), { blockMsLeft: 0, full: false }), 5000, 50);
  });

  it('a release forgets running attempts too: a client stuck at its limit can log in again', async () => {
    const { store, throttle } = replica();
    await ready(store);
    const client = '192.0.2.41';
    for (let i = 0; i < 10; i++) assert.equal((await store.begin('data', client, 10, 60_000, `stuck-${i}`)).full, false);
    assert.equal((await throttle.begin(client)).counted, false, 'at the limit');
    assert.equal(await throttle.release(client), 'released', 'no failure or block, but attempts held it at its limit');
    assert.equal(await redis.command('EXISTS', `keepd:throttle:{data:${client}}:r`), ':0', 'its running attempts are gone');
    assert.equal((await throttle.begin(client)).counted, true);
  });

  it('reconnects by itself when its connection is a black hole (Redis gone with its host: no reset, no answer)', async () => {
    const { createServer, connect } = await import('node:net');
    let connections = 0;
    let silentBelow = 0;
    // A relay to Redis that, once told, stops forwarding on the connections it has (open, silent); new ones work.
    const relay = createServer((client) => {
      const index = connections++;
      const upstream = connect(redis.port, '127.0.0.1');
      // Connections opened before silentBelow was set fall silent (open, no answer); later ones work.
      client.on('data', (chunk: Buffer) => (index < silentBelow ? undefined : upstream.write(chunk)));
      upstream.on('data', (chunk: Buffer) => (index < silentBelow ? undefined : client.write(chunk)));
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const address = relay.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const store = new RedisThrottleStore({ url: redis.url.replace(`:${redis.port}`, `:${port}`), ...STORE, timeoutMs: 200 }, { error: () => undefined, changed: () => undefined });
    stores.push(store);
    try {
      await ready(store);
      const opened = connections;
      silentBelow = opened; // the open connection is a black hole from now on
      await assert.rejects(store.begin('data', '192.0.2.50', 10, 60_000, 'lost'));
      assert.equal(store.usable, false, 'degraded after a timeout');
      // The probe times out too, and keepd drops the silent connection for a new one: up again.
      await eventually(() => Promise.resolve(assert.equal(store.usable, true)), 10_000, 50);
      assert.ok(connections > opened, 'a new connection');
    } finally {
      relay.close();
    }
  });

  it('says when Redis could not be asked: a partial list, a release on this replica only', async () => {
    const store = new RedisThrottleStore({ url: `redis://127.0.0.1:${await freePort()}`, ...STORE }, { error: () => undefined, changed: () => undefined });
    stores.push(store);
    const throttle = new ClientThrottle('data', () => ({ ...SETTINGS, maxFailures: 2 }), () => store);
    await eventually(() => {
      const status = store.status();
      return Promise.resolve(assert.equal(status.kind === 'redis' && status.state, 'degraded'));
    });
    for (let i = 0; i < 2; i++) {
      const attempt = throttle.begin('192.0.2.60');
      assert.ok(!(attempt instanceof Promise));
      throttle.finish('192.0.2.60', 'x', 'failure', attempt);
    }
    const listed = await throttle.blockedList();
    assert.deepEqual({ complete: listed.complete, addresses: listed.clients.map((c) => c.address) }, { complete: false, addresses: ['192.0.2.60'] });
    assert.equal(await throttle.release('192.0.2.60'), 'released-here-only');
    assert.equal(await throttle.release('192.0.2.61'), 'store-unavailable');
  });

  it('loads its scripts when Redis (re)starts: the first login after a restart pays no NOSCRIPT round trip', async () => {
    const own = await startRedis();
    const store = new RedisThrottleStore({ url: own.url, ...STORE }, { error: () => undefined, changed: () => undefined });
    stores.push(store);
    await ready(store);
    await own.kill();
    await own.start(); // empty: no scripts
    await eventually(async () => {
      assert.equal(store.usable, true);
      const exists = await own.command('SCRIPT', 'EXISTS', BEGIN.sha, FINISH.sha, RELEASE.sha);
      assert.equal((exists.match(/:1/g) ?? []).length, 3, exists);
    }, 10_000, 50);
    await store.begin('data', '192.0.2.70', 10, 60_000, 'after-restart');
    const calls = await own.commandCalls();
    assert.equal(calls.eval, undefined, `no EVAL fallback: ${JSON.stringify(calls)}`);
    assert.ok((calls.evalsha ?? 0) >= 1);
  });

  it('counts locally, at once, while Redis cannot be reached, and says why', async () => {
    const changes: ThrottleStoreStatus[] = [];
    const store = new RedisThrottleStore({ url: `redis://:secret-pw@127.0.0.1:${await freePort()}`, ...STORE }, { error: () => undefined, changed: (_transition, status) => changes.push(status) });
    stores.push(store);
    const throttle = new ClientThrottle('data', () => SETTINGS, () => store);
    await eventually(() => Promise.resolve(assert.equal(changes.length, 1)));
    const status = store.status();
    assert.equal(status.kind === 'redis' && status.state, 'degraded');
    assert.match(JSON.stringify(status), /redis:\/\/:\*\*\*@127\.0\.0\.1/);
    assert.doesNotMatch(JSON.stringify(status), /secret-pw/);
    const attempt = throttle.begin('192.0.2.30');
    assert.ok(!(attempt instanceof Promise), 'no Redis round trip while degraded');
    assert.deepEqual(attempt, { wait: 0, counted: true });
    throttle.finish('192.0.2.30', 'x', 'failure', attempt);
    assert.equal(throttle.local.trackedClients, 1);
  });
});
