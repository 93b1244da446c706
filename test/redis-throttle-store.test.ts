import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisThrottleStore, type ThrottleStoreStatus } from '../src/accounts/redis-throttle-store.js';
import { ClientThrottle } from '../src/accounts/shared-throttle.js';
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
    assert.equal(await redis.command('GET', 'keepd:throttle:{data:192.0.2.10}:p'), '10');
    const pendingTtl = Number((await redis.command('PTTL', 'keepd:throttle:{data:192.0.2.10}:p')).slice(1));
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
    assert.equal(await redis.command('EXISTS', 'keepd:throttle:{data:192.0.2.10}:p'), ':0', 'no attempt left running');
    for (const suffix of ['f', 'b', 'u']) {
      const ttl = Number((await redis.command('PTTL', `keepd:throttle:{data:192.0.2.10}:${suffix}`)).slice(1));
      assert.ok(ttl > 0 && ttl <= 60_000, `${suffix} expires (${ttl} ms)`);
    }
    assert.deepEqual((await b.throttle.blockedList()).map(({ address, failures }) => ({ address, failures })), [{ address: client, failures: 10 }]);

    assert.equal(await a.throttle.release(client), true);
    assert.equal(await b.throttle.release(client), false, 'released everywhere already');
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
