import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Authenticator, countAccounts, indexAccounts, type PasswordVerifier } from '../src/accounts/accounts.js';
import { verifyPassword } from '../src/accounts/secret.js';
import { VerificationCache } from '../src/accounts/verification-cache.js';
import { VerificationLimiter, VerificationOverloaded } from '../src/accounts/verification-limiter.js';
import type { KeepConfig } from '../src/config/schema.js';
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

function newAuthenticator(verify?: PasswordVerifier): Authenticator {
  const limiter = new VerificationLimiter({ concurrency: 4, queueLimit: 100 });
  return verify ? new Authenticator(new VerificationCache(), limiter, verify) : new Authenticator(new VerificationCache(), limiter);
}

/** The real verifier, counted: how many PBKDF2 runs a request cost. */
function countingVerifier(): { verify: PasswordVerifier; calls: () => number } {
  let calls = 0;
  return {
    verify: (secret, password) => {
      calls++;
      return verifyPassword(secret, password);
    },
    calls: () => calls,
  };
}

describe('functional accounts', () => {
  it('answers who is this, in this realm, with this password', async () => {
    const auth = newAuthenticator();
    const index = indexAccounts(identity());
    const john = await auth.authenticate(index, 'singleDbModeUsers', 'John Doe', 'password');
    assert.equal(john.ok, true);
    assert.equal(john.account.CN, 'CN=John Doe/O=Mauraders');
    assert.deepEqual(await auth.authenticate(index, 'managementAPI', 'Doctor Notes', 'wrong'), { ok: false, reason: 'wrong_password' });
    assert.deepEqual(await auth.authenticate(index, 'managementAPI', 'nobody', 'password'), { ok: false, reason: 'unknown_user' });
    assert.deepEqual(await auth.authenticate(index, 'managementAPI', 'retired', 'password'), { ok: false, reason: 'inactive' });
  });

  it('takes names verbatim: no case folding, no trimming', async () => {
    const auth = newAuthenticator();
    const index = indexAccounts(identity());
    for (const name of ['doctor notes', 'Doctor Notes ', ' Doctor Notes', 'DoctorNotes', 'Doctor  Notes']) {
      assert.equal((await auth.authenticate(index, 'managementAPI', name, 'password')).ok, false, JSON.stringify(name));
    }
  });

  it('keeps each realm to its own accounts', async () => {
    const auth = newAuthenticator();
    const index = indexAccounts(identity());
    assert.equal((await auth.authenticate(index, 'metricsAPI', 'metrics', 'metrics')).ok, true);
    assert.equal((await auth.authenticate(index, 'healthcheckAPI', 'metrics', 'metrics')).ok, false);
    assert.equal((await auth.authenticate(index, 'managementAPI', 'John Doe', 'password')).ok, false);
  });

  it('treats names like "constructor" and "__proto__" as plain names', async () => {
    const auth = newAuthenticator();
    const index = indexAccounts(identity());
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.deepEqual(await auth.authenticate(index, 'managementAPI', name, 'password'), { ok: false, reason: 'unknown_user' });
    }
  });

  it('makes unknown users and inactive accounts cost one PBKDF2, like a wrong password', async () => {
    const counter = countingVerifier();
    const auth = newAuthenticator(counter.verify);
    const index = indexAccounts(identity());
    await auth.authenticate(index, 'managementAPI', 'nobody', 'password');
    assert.equal(counter.calls(), 1);
    await auth.authenticate(index, 'managementAPI', 'retired', 'password');
    assert.equal(counter.calls(), 2);
    await auth.authenticate(index, 'managementAPI', 'Doctor Notes', 'nope');
    assert.equal(counter.calls(), 3);
  });

  it('serves a repeated good credential from the cache, and only a good one', async () => {
    const counter = countingVerifier();
    const auth = newAuthenticator(counter.verify);
    const index = indexAccounts(identity());
    const first = await auth.authenticate(index, 'managementAPI', 'Doctor Notes', 'password');
    const second = await auth.authenticate(index, 'managementAPI', 'Doctor Notes', 'password');
    assert.equal(first.ok && first.cached, false);
    assert.equal(second.ok && second.cached, true);
    assert.equal(counter.calls(), 1);
    await auth.authenticate(index, 'managementAPI', 'Doctor Notes', 'bad');
    await auth.authenticate(index, 'managementAPI', 'Doctor Notes', 'bad');
    assert.equal(counter.calls(), 3, 'failures are not cached');
  });

  it('never lets the cache accept a password the current secret does not', async () => {
    const auth = newAuthenticator();
    const before = indexAccounts(identity());
    assert.equal((await auth.authenticate(before, 'managementAPI', 'Doctor Notes', 'password')).ok, true);

    const changed = indexAccounts(identity({ managementAPI: { 'Doctor Notes': { active: true, secret: PUBLISHED.metrics } } }));
    assert.deepEqual(await auth.authenticate(changed, 'managementAPI', 'Doctor Notes', 'password'), { ok: false, reason: 'wrong_password' });
    assert.equal((await auth.authenticate(changed, 'managementAPI', 'Doctor Notes', 'metrics')).ok, true);

    const deactivated = indexAccounts(identity({ managementAPI: { 'Doctor Notes': { active: false, secret: PUBLISHED.password } } }));
    assert.deepEqual(await auth.authenticate(deactivated, 'managementAPI', 'Doctor Notes', 'password'), { ok: false, reason: 'inactive' });

    const removed = indexAccounts(identity({ managementAPI: {} }));
    assert.deepEqual(await auth.authenticate(removed, 'managementAPI', 'Doctor Notes', 'password'), { ok: false, reason: 'unknown_user' });
  });

  it('counts accounts per realm', () => {
    assert.deepEqual(countAccounts(indexAccounts(identity())), { healthcheckAPI: 1, managementAPI: 2, metricsAPI: 1, singleDbModeUsers: 1 });
  });

  it('refuses new credentials at once when every verification slot and queue place is taken, but never cached ones', async () => {
    const limiter = new VerificationLimiter({ concurrency: 1, queueLimit: 2 });
    const auth = new Authenticator(new VerificationCache(), limiter);
    const index = indexAccounts(identity());
    assert.equal((await auth.authenticate(index, 'managementAPI', 'Doctor Notes', 'password')).ok, true);
    const flood = Array.from({ length: 6 }, (_, i) => auth.authenticate(index, 'managementAPI', 'Doctor Notes', `guess-${i}`).then(
      (outcome) => outcome,
      (error: unknown) => error,
    ));
    assert.equal(limiter.running, 1);
    assert.equal(limiter.queued, 2);
    const cached = await auth.authenticate(index, 'managementAPI', 'Doctor Notes', 'password');
    assert.equal(cached.ok && cached.cached, true, 'a cached credential does not wait behind the queue');
    assert.equal(limiter.queued, 2, 'the flood is still waiting');
    const results = await Promise.all(flood);
    assert.equal(results.filter((r) => r instanceof VerificationOverloaded).length, 3);
    assert.equal(results.filter((r) => !(r instanceof VerificationOverloaded)).length, 3);
    assert.equal(limiter.running + limiter.queued, 0);
  });
});

describe('verification limiter', () => {
  it('honours a lowered concurrency even while verifications wait', async () => {
    const limiter = new VerificationLimiter({ concurrency: 3, queueLimit: 10 });
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
    limiter.configure({ concurrency: 1, queueLimit: 10 });
    while (seen.length < 8 || releases.length > 0) {
      releases.shift()?.();
      await tick();
    }
    await Promise.all(all);
    assert.deepEqual(seen.slice(3), [1, 1, 1, 1, 1], 'after the first three, one at a time');
    assert.equal(limiter.running, 0);
  });
});
