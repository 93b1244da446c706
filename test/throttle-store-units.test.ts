import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { saltPlatformPassword } from '../src/accounts/platform-secret.js';
import { redisClientOptions } from '../src/accounts/redis-throttle-store.js';
import { initialStoreState, nextStoreState, probeDelayMs, reconnectDelayMs, usesStore, type StoreEvent, type StoreState } from '../src/accounts/store-health.js';
import { blockPattern, clientKeys, clientOfBlockKey } from '../src/accounts/throttle-keys.js';
import { assembleConfig } from '../src/config/assemble.js';
import { REDIS_STORE_DEFAULTS } from '../src/config/defaults.js';
import { maskConfig } from '../src/config/mask.js';
import { formatProblem } from '../src/config/problems.js';
import { isRedisUrl, maskedStoreUrl, redactStoreMessage, sameRedisSettings } from '../src/config/throttle-store.js';
import { tempDir } from './helpers/temp-dir.js';

describe('shared throttle store: key names', () => {
  it('puts every key of a client and listener under the prefix and one hash tag', () => {
    const table: [prefix: string, listener: string, client: string, failures: string][] = [
      ['keepd:throttle:', 'data', '192.0.2.7', 'keepd:throttle:{data:192.0.2.7}:f'],
      ['keepd:throttle:', 'health', '2001:db8:1:2::/64', 'keepd:throttle:{health:2001:db8:1:2::/64}:f'],
      ['prod/', 'management', '10.0.0.1', 'prod/{management:10.0.0.1}:f'],
    ];
    for (const [prefix, listener, client, failures] of table) {
      const keys = clientKeys(prefix, listener, client);
      assert.equal(keys.failures, failures);
      const tag = `{${listener}:${client}}`;
      const all = [keys.failures, keys.block, keys.running, keys.users];
      for (const key of all) assert.ok(key.startsWith(prefix) && key.includes(tag), key);
      assert.equal(new Set(all).size, 4, 'four distinct keys');
      assert.equal(clientOfBlockKey(prefix, listener, keys.block), client, 'the block key names its client');
    }
  });

  it('reads a client back only from a block key of that prefix and listener', () => {
    const table: [key: string, client: string | undefined][] = [
      ['keepd:throttle:{data:192.0.2.7}:b', '192.0.2.7'],
      ['keepd:throttle:{data:2001:db8::/64}:b', '2001:db8::/64'],
      ['keepd:throttle:{data:192.0.2.7}:f', undefined],
      ['keepd:throttle:{health:192.0.2.7}:b', undefined],
      ['other:{data:192.0.2.7}:b', undefined],
      ['keepd:throttle:{data:}:b', undefined],
      ['keepd:throttle:{data:a}b}:b', undefined],
    ];
    for (const [key, client] of table) assert.equal(clientOfBlockKey('keepd:throttle:', 'data', key), client, key);
    assert.equal(blockPattern('keepd:throttle:', 'data'), 'keepd:throttle:{data:*}:b');
  });
});

describe('shared throttle store: the degraded state machine', () => {
  const down: StoreEvent = { kind: 'error', error: 'connect ECONNREFUSED' };
  const ok: StoreEvent = { kind: 'ok' };
  const degraded = (since: number, failedProbes = 0, error = 'connect ECONNREFUSED'): StoreState => ({ kind: 'degraded', since, error, failedProbes });

  it('goes degraded and back once per transition, never per request', () => {
    const table: [from: StoreState, event: StoreEvent, to: StoreState, transition: 'degraded' | 'recovered' | undefined][] = [
      [initialStoreState(0), ok, { kind: 'up', since: 5 }, undefined],
      [initialStoreState(0), down, degraded(5), 'degraded'],
      [{ kind: 'up', since: 0 }, ok, { kind: 'up', since: 0 }, undefined],
      [{ kind: 'up', since: 0 }, down, degraded(5), 'degraded'],
      [degraded(1), down, degraded(1, 1), undefined],
      [degraded(1, 3), { kind: 'error', error: 'Command timed out' }, degraded(1, 4, 'Command timed out'), undefined],
      [degraded(1, 3), ok, { kind: 'up', since: 5 }, 'recovered'],
    ];
    for (const [from, event, to, transition] of table) {
      assert.deepEqual(nextStoreState(from, event, 5), { state: to, transition }, `${JSON.stringify(from)} + ${event.kind}`);
    }
  });

  it('uses Redis only while it is up', () => {
    assert.equal(usesStore({ kind: 'up', since: 0 }), true);
    assert.equal(usesStore(initialStoreState(0)), false);
    assert.equal(usesStore(degraded(0)), false);
  });

  it('probes and reconnects with a backoff capped at 2 s', () => {
    const probes: [number, number][] = [[0, 100], [1, 200], [2, 400], [4, 1600], [5, 2000], [50, 2000]];
    for (const [failed, ms] of probes) assert.equal(probeDelayMs(failed), ms, `probe after ${failed} failures`);
    const reconnects: [number, number][] = [[1, 50], [2, 100], [3, 200], [6, 1600], [7, 2000], [1000, 2000]];
    for (const [times, ms] of reconnects) assert.equal(reconnectDelayMs(times), ms, `reconnect ${times}`);
  });

  it('configures ioredis never to queue or replay a command, and to time each out', () => {
    const options = redisClientOptions({ timeoutMs: 150 });
    assert.equal(options.enableOfflineQueue, false);
    assert.equal(options.maxRetriesPerRequest, 0);
    assert.equal(options.autoResendUnfulfilledCommands, false);
    assert.equal(options.commandTimeout, 150);
    assert.ok(options.connectTimeout >= 150);
    assert.equal(options.retryStrategy(100), 2000, 'reconnects forever, capped');
  });
});

describe('shared throttle store: the URL and its password', () => {
  it('accepts redis:// and rediss:// URLs with a host only', () => {
    const table: [string, boolean][] = [
      ['redis://redis:6379', true],
      ['redis://:pw@redis:6379/0', true],
      ['rediss://user:pw@redis.example.com:6380/2', true],
      ['redis://redis', true],
      ['redis://[::1]:6379', true],
      ['http://redis:6379', false],
      ['redis:///tmp/redis.sock', false],
      ['redis://redis:6379/x', false],
      ['redis:6379', false],
      ['', false],
    ];
    for (const [url, valid] of table) assert.equal(isRedisUrl(url), valid, url);
  });

  it('masks the password (or a lone user name) wherever the URL is shown', () => {
    const table: [string, string][] = [
      ['redis://:s3cret@redis:6379/0', 'redis://:***@redis:6379/0'],
      ['rediss://keepd:s3cret@redis:6380', 'rediss://keepd:***@redis:6380'],
      ['redis://tokenonly@redis:6379', 'redis://***@redis:6379'],
      ['redis://redis:6379', 'redis://redis:6379'],
      // by the URL's structure: text patterns stop at a space or a quote, a URL parser does not
      ['redis://:Secr3t PW-xyz@127.0.0.1:6379', 'redis://:***@127.0.0.1:6379'],
      ['redis://:it\'s"pw@redis', 'redis://:***@redis'],
      ['not a URL with a password', '***'],
    ];
    for (const [url, shown] of table) assert.equal(maskedStoreUrl(url), shown, url);
  });

  it('is masked in the configuration as GET /config, /config/sources, keepd check and support packages show it', () => {
    // As the configuration holds it, even unvalidated (keepd check of a refused file): masked by structure.
    assert.deepEqual(maskConfig({ loginRateLimit: { store: { redis: { url: 'redis://:Secr3t PW@r' } } } }), { loginRateLimit: { store: { redis: { url: 'redis://:***@r' } } } });
    const masked = maskConfig({ loginRateLimit: { store: { redis: { url: 'rediss://keepd:s3cret@redis:6380/1', keyPrefix: 'keepd:throttle:', timeoutMs: 200 } } } });
    assert.deepEqual(masked, { loginRateLimit: { store: { redis: { url: 'rediss://keepd:***@redis:6380/1', keyPrefix: 'keepd:throttle:', timeoutMs: 200 } } } });
    // keyPrefix sounds secret (key...): shown only when it reads as a prefix, not a pasted password.
    const prefixes: [string, string][] = [['prod:keepd:', 'prod:keepd:'], ['keepd/', 'keepd/'], ['a:', 'a:'], ['Xk29!fQ', '***'], ['s3cr3tPassw0rd', '***']];
    for (const [prefix, shown] of prefixes) {
      const config = maskConfig({ loginRateLimit: { store: { redis: { url: 'redis://r', keyPrefix: prefix } } } });
      assert.deepEqual(config, { loginRateLimit: { store: { redis: { url: 'redis://r', keyPrefix: shown } } } }, prefix);
    }
  });

  it('takes the password out of any message of the client library', () => {
    const url = 'redis://:p%40ss-w0rd@redis:6379';
    const table: [string, string][] = [
      ['WRONGPASS invalid username-password pair', 'WRONGPASS invalid username-password pair'],
      ['cannot connect to redis://:p%40ss-w0rd@redis:6379', 'cannot connect to redis://:***@redis:6379'],
      ['AUTH p@ss-w0rd failed', 'AUTH *** failed'],
      ['AUTH p%40ss-w0rd failed', 'AUTH *** failed'],
    ];
    for (const [message, shown] of table) assert.equal(redactStoreMessage(message, url), shown, message);
  });

  it('keeps a client across reloads only when url, keyPrefix and timeoutMs are the same', () => {
    const a = { url: 'redis://r:6379', keyPrefix: 'k:', timeoutMs: 200 };
    assert.equal(sameRedisSettings(a, { ...a }), true);
    assert.equal(sameRedisSettings(undefined, undefined), true);
    assert.equal(sameRedisSettings(a, undefined), false);
    assert.equal(sameRedisSettings(a, { ...a, url: 'redis://r:6379/1' }), false);
    assert.equal(sameRedisSettings(a, { ...a, keyPrefix: 'j:' }), false);
    assert.equal(sameRedisSettings(a, { ...a, timeoutMs: 300 }), false);
  });
});

describe('loginRateLimit.store in the configuration', () => {
  async function load(store: unknown): Promise<{ ok: true; store: unknown } | { ok: false; problems: string[] }> {
    const result = await assembleConfig(await tempDir({ 'throttle.json': { loginRateLimit: { store } } }), {}, saltPlatformPassword);
    return result.ok ? { ok: true, store: result.loaded.config.loginRateLimit.store } : { ok: false, problems: result.problems.map(formatProblem) };
  }

  it('is "memory" by default, and fills in keyPrefix and timeoutMs for Redis', async () => {
    const result = await assembleConfig(await tempDir({}), {}, saltPlatformPassword);
    assert.ok(result.ok);
    assert.equal(result.loaded.config.loginRateLimit.store, 'memory');
    assert.deepEqual(await load({ redis: { url: 'redis://redis:6379' } }), { ok: true, store: { redis: { url: 'redis://redis:6379', ...REDIS_STORE_DEFAULTS } } });
    assert.deepEqual(await load({ redis: { url: 'rediss://redis:6380', keyPrefix: 'a:', timeoutMs: 50 } }), { ok: true, store: { redis: { url: 'rediss://redis:6380', keyPrefix: 'a:', timeoutMs: 50 } } });
  });

  it('refuses bad values with the key named, never echoing the password', async () => {
    const table: [store: unknown, problem: RegExp][] = [
      ['disk', /^throttle\.json: loginRateLimit\.store: expected "memory", or \{"redis"/],
      [{ redis: { url: 'http://:hunter2@redis:6379' } }, /^throttle\.json: loginRateLimit\.store\.redis\.url: expected a redis:\/\/ or rediss:\/\/ URL/],
      [{ redis: {} }, /^throttle\.json: loginRateLimit\.store\.redis\.url: expected a redis:\/\/ or rediss:\/\/ URL.*found nothing/],
      [{ redis: { url: 'redis://r', keyPrefix: 'a*' } }, /^throttle\.json: loginRateLimit\.store\.redis\.keyPrefix: expected a key prefix/],
      [{ redis: { url: 'redis://r', timeoutMs: 0 } }, /^throttle\.json: loginRateLimit\.store\.redis\.timeoutMs: expected an integer from 10 to 10000/],
      [{ redis: { url: 'redis://r', timeOutMs: 100 } }, /^throttle\.json: loginRateLimit\.store\.redis: expected an object \{"url"/],
      [{ memcached: {} }, /^throttle\.json: loginRateLimit\.store: expected "memory", or \{"redis"/],
      // ioredis takes options from the query over keepd's: no queueing limits could be overridden
      [{ redis: { url: 'redis://:hunter2@r/0?enableOfflineQueue=true&commandTimeout=' } }, /^throttle\.json: loginRateLimit\.store\.redis\.url: expected a URL without options \(nothing after "\?" or "#"/],
      [{ redis: { url: 'redis://:hunter2@r/0#x' } }, /loginRateLimit\.store\.redis\.url: expected a URL without options/],
      [{ redis: { url: 'redis://:hunter2 x@r/0' } }, /^throttle\.json: loginRateLimit\.store\.redis\.url: expected a URL whose password is percent-encoded \(a space is %20/],
      [{ redis: { url: 'redis://:"hunter2"@r/0' } }, /loginRateLimit\.store\.redis\.url: expected a URL whose password is percent-encoded/],
    ];
    for (const [store, problem] of table) {
      const result = await load(store);
      assert.ok(!result.ok, JSON.stringify(store));
      assert.ok(result.problems.some((line) => problem.test(line)), result.problems.join('\n'));
      assert.doesNotMatch(result.problems.join('\n'), /hunter2/);
    }
  });
});
