import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countAccounts, indexAccounts, type AccountIndex } from '../src/accounts/accounts.js';
import { ClientThrottle } from '../src/accounts/shared-throttle.js';
import { VerificationCache } from '../src/accounts/verification-cache.js';
import { VerificationLimiter, type LimiterSettings } from '../src/accounts/verification-limiter.js';
import type { Realm } from '../src/config/listener-table.js';
import type { KeepConfig } from '../src/config/schema.js';
import { trustTest } from '../src/config/trusted-proxies.js';
import { authenticate, parseBasicAuthorization, type AuthGate, type AuthOutcome } from '../src/auth/authenticate.js';
import { KeepdMetrics } from '../src/metrics/keepd-metrics.js';
import { PUBLISHED } from './helpers/published.js';

function identity(overrides: Partial<KeepConfig['identity']> = {}): KeepConfig['identity'] {
  return {
    healthcheckAPI: { probe: { active: true, secret: PUBLISHED.metrics } },
    managementAPI: {
      'Doctor Notes': { active: true, secret: PUBLISHED.password },
      retired: { active: false, secret: PUBLISHED.password },
    },
    metricsAPI: { metrics: { active: true, secret: PUBLISHED.metrics } },
    singleDbModeUsers: { 'John Doe': { active: true, CN: 'CN=John Doe/O=Mauraders', secret: PUBLISHED.password } },
    ...overrides,
  };
}

/** Counts the password verifications (PBKDF2 runs) a request cost. */
class CountingLimiter extends VerificationLimiter {
  calls = 0;
  override run<T>(work: () => Promise<T>): Promise<T> {
    this.calls++;
    return super.run(work);
  }
}

/** Counts the cache keys computed (each a SHA-256 over the credential). */
class CountingCache extends VerificationCache {
  keys = 0;
  override entryFor(realm: string, user: string, secretTag: string, password: string): string {
    this.keys++;
    return super.entryFor(realm, user, secretTag, password);
  }
}

interface Harness {
  gate: (realm: Realm) => AuthGate;
  limiter: CountingLimiter;
  cache: CountingCache;
  setAccounts: (index: AccountIndex) => void;
}

function harness(limits: LimiterSettings = { concurrency: 4, queueLimit: 100 }): Harness {
  let index = indexAccounts(identity());
  const limiter = new CountingLimiter(() => limits);
  const cache = new CountingCache();
  const metrics = new KeepdMetrics();
  const throttle = new ClientThrottle('management', () => ({ enabled: false, maxFailures: 10, windowSeconds: 60, exemptLoopback: false }), () => undefined);
  return {
    gate: (realm) => ({ listener: 'management', realm, accounts: () => index, cache, limiter, throttle, metrics, trust: () => trustTest([]) }),
    limiter,
    cache,
    setAccounts: (next) => (index = next),
  };
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The outcome, whether it came synchronously or not, with a flag saying which. */
async function login(gate: AuthGate, user: string, password: string): Promise<AuthOutcome & { sync: boolean }> {
  const outcome = authenticate(gate, basic(user, password), '192.0.2.1');
  return outcome instanceof Promise ? { ...(await outcome), sync: false } : { ...outcome, sync: true };
}

const kind = async (gate: AuthGate, user: string, password: string): Promise<string> => (await login(gate, user, password)).kind;

describe('Basic Authorization header', () => {
  const cases: [string, string | undefined, ReturnType<typeof parseBasicAuthorization>][] = [
    ['absent', undefined, 'missing'],
    ['a plain pair', basic('John Doe', 'password'), { user: 'John Doe', password: 'password' }],
    ['scheme in any case', `bAsIc ${Buffer.from('a:b').toString('base64')}`, { user: 'a', password: 'b' }],
    ['a colon in the password', basic('a', 'b:c'), { user: 'a', password: 'b:c' }],
    ['an empty password', basic('a', ''), { user: 'a', password: '' }],
    ['UTF-8 names', basic('Jürgen', 'pässword'), { user: 'Jürgen', password: 'pässword' }],
    ['another scheme', 'Bearer abc', 'malformed'],
    ['no token', 'Basic ', 'malformed'],
    ['two spaces', `Basic  ${Buffer.from('a:b').toString('base64')}`, 'malformed'],
    ['no colon', `Basic ${Buffer.from('ab').toString('base64')}`, 'malformed'],
    ['a control character', basic('a', 'b\u0000c'), 'malformed'],
    ['invalid UTF-8', `Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`, 'malformed'],
    ['not base64', 'Basic !!!!', 'malformed'],
  ];
  for (const [name, header, expected] of cases) {
    it(`${name}: ${JSON.stringify(expected)}`, () => assert.deepEqual(parseBasicAuthorization(header), expected));
  }
});

describe('authentication', () => {
  it('answers who is this, in this realm, with this password', async () => {
    const { gate } = harness();
    const john = await login(gate('singleDbModeUsers'), 'John Doe', 'password');
    assert.equal(john.kind === 'ok' && john.account.CN, 'CN=John Doe/O=Mauraders');
    assert.equal(await kind(gate('managementAPI'), 'Doctor Notes', 'wrong'), 'wrong');
    assert.equal(await kind(gate('managementAPI'), 'nobody', 'password'), 'unknown');
    assert.equal(await kind(gate('managementAPI'), 'retired', 'password'), 'inactive');
    assert.equal((authenticate(gate('managementAPI'), undefined, '192.0.2.1') as AuthOutcome).kind, 'missing');
    assert.equal((authenticate(gate('managementAPI'), 'Basic ?', '192.0.2.1') as AuthOutcome).kind, 'malformed');
  });

  it('takes names verbatim: no case folding, no trimming', async () => {
    const { gate } = harness();
    for (const name of ['doctor notes', 'Doctor Notes ', ' Doctor Notes', 'DoctorNotes', 'Doctor  Notes']) {
      assert.equal(await kind(gate('managementAPI'), name, 'password'), 'unknown', JSON.stringify(name));
    }
  });

  it('keeps each realm to its own accounts', async () => {
    const { gate } = harness();
    assert.equal(await kind(gate('metricsAPI'), 'metrics', 'metrics'), 'ok');
    assert.equal(await kind(gate('healthcheckAPI'), 'metrics', 'metrics'), 'unknown');
    assert.equal(await kind(gate('managementAPI'), 'John Doe', 'password'), 'unknown');
  });

  it('treats names like "constructor" and "__proto__" as plain names', async () => {
    const { gate } = harness();
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.equal(await kind(gate('managementAPI'), name, 'password'), 'unknown');
    }
  });

  it('makes unknown users and inactive accounts cost one PBKDF2, like a wrong password', async () => {
    const { gate, limiter } = harness();
    await login(gate('managementAPI'), 'nobody', 'password');
    assert.equal(limiter.calls, 1);
    await login(gate('managementAPI'), 'retired', 'password');
    assert.equal(limiter.calls, 2);
    await login(gate('managementAPI'), 'Doctor Notes', 'nope');
    assert.equal(limiter.calls, 3);
  });

  it('serves a repeated good credential from the cache, synchronously, and only a good one', async () => {
    const { gate, limiter } = harness();
    const first = await login(gate('managementAPI'), 'Doctor Notes', 'password');
    const second = await login(gate('managementAPI'), 'Doctor Notes', 'password');
    assert.deepEqual([first.kind, first.sync, second.kind, second.sync], ['ok', false, 'ok', true]);
    assert.equal(limiter.calls, 1);
    await login(gate('managementAPI'), 'Doctor Notes', 'bad');
    await login(gate('managementAPI'), 'Doctor Notes', 'bad');
    assert.equal(limiter.calls, 3, 'failures are not cached');
  });

  it('computes the cache key once per request, hit or miss', async () => {
    const { gate, cache } = harness();
    await login(gate('managementAPI'), 'Doctor Notes', 'password');
    assert.equal(cache.keys, 1, 'a miss, verified and added under the same key');
    await login(gate('managementAPI'), 'Doctor Notes', 'password');
    assert.equal(cache.keys, 2, 'a hit');
    await login(gate('managementAPI'), 'nobody', 'password');
    assert.equal(cache.keys, 2, 'no account, no key');
  });

  it('never lets the cache accept a password the current secret does not', async () => {
    const { gate, setAccounts } = harness();
    assert.equal(await kind(gate('managementAPI'), 'Doctor Notes', 'password'), 'ok');
    setAccounts(indexAccounts(identity({ managementAPI: { 'Doctor Notes': { active: true, secret: PUBLISHED.metrics } } })));
    assert.equal(await kind(gate('managementAPI'), 'Doctor Notes', 'password'), 'wrong');
    assert.equal(await kind(gate('managementAPI'), 'Doctor Notes', 'metrics'), 'ok');
    setAccounts(indexAccounts(identity({ managementAPI: { 'Doctor Notes': { active: false, secret: PUBLISHED.password } } })));
    assert.equal(await kind(gate('managementAPI'), 'Doctor Notes', 'password'), 'inactive');
    setAccounts(indexAccounts(identity({ managementAPI: {} })));
    assert.equal(await kind(gate('managementAPI'), 'Doctor Notes', 'password'), 'unknown');
  });

  it('counts accounts per realm', () => {
    assert.deepEqual(countAccounts(indexAccounts(identity())), { healthcheckAPI: 1, managementAPI: 2, metricsAPI: 1, singleDbModeUsers: 1 });
  });

  it('refuses new credentials at once when every verification slot and queue place is taken, but never cached ones', async () => {
    const { gate, limiter } = harness({ concurrency: 1, queueLimit: 2 });
    const management = gate('managementAPI');
    assert.equal(await kind(management, 'Doctor Notes', 'password'), 'ok');
    const flood = Array.from({ length: 6 }, (_, i) => login(management, 'Doctor Notes', `guess-${i}`));
    assert.equal(limiter.running, 1);
    assert.equal(limiter.queued, 2);
    const cached = authenticate(management, basic('Doctor Notes', 'password'), '192.0.2.1');
    assert.ok(!(cached instanceof Promise) && cached.kind === 'ok', 'a cached credential does not wait behind the queue');
    assert.equal(limiter.queued, 2, 'the flood is still waiting');
    const results = (await Promise.all(flood)).map((r) => r.kind);
    assert.deepEqual(results.filter((r) => r === 'overloaded').length, 3);
    assert.deepEqual(results.filter((r) => r === 'wrong').length, 3);
    assert.equal(limiter.running + limiter.queued, 0);
  });
});

describe('verification limiter', () => {
  it('honours a lowered concurrency even while verifications wait', async () => {
    let settings: LimiterSettings = { concurrency: 3, queueLimit: 10 };
    const limiter = new VerificationLimiter(() => settings);
    let running = 0;
    const seen: number[] = [];
    const releases: (() => void)[] = [];
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    const all = Array.from({ length: 8 }, () =>
      limiter.run(async () => {
        running++;
        seen.push(running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
      }),
    );
    await tick();
    assert.deepEqual(seen, [1, 2, 3]);
    settings = { concurrency: 1, queueLimit: 10 };
    while (seen.length < 8 || releases.length > 0) {
      releases.shift()?.();
      await tick();
    }
    await Promise.all(all);
    assert.deepEqual(seen.slice(3), [1, 1, 1, 1, 1], 'after the first three, one at a time');
    assert.equal(limiter.running, 0);
  });
});
