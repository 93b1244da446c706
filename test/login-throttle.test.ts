import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientKey, LoginThrottle } from '../src/accounts/login-throttle.js';
import { isLoopbackAddress } from '../src/config/addresses.js';

const settings = { enabled: true, maxFailures: 3, windowSeconds: 60, exemptLoopback: false };

/** One verified attempt that failed. */
function fail(throttle: LoginThrottle, address: string, user = 'probe'): number {
  const attempt = throttle.begin(address);
  if (attempt.wait === 0) throttle.finish(address, user, 'failure', attempt);
  return attempt.wait;
}

describe('login throttle', () => {
  it('blocks a client for one window after maxFailures failures, and only that client', () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle(() => settings, () => now);
    fail(throttle, '10.0.0.1');
    fail(throttle, '10.0.0.1');
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 0);
    fail(throttle, '10.0.0.1');
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 60);
    assert.equal(throttle.begin('10.0.0.1').wait, 60, 'nothing more is verified');
    assert.equal(throttle.retryAfterSeconds('10.0.0.2'), 0);
    assert.equal(throttle.blockedClients(), 1);
    now += 59_500;
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 1);
    now += 600;
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 0);
    assert.equal(throttle.begin('10.0.0.1').wait, 0);
  });

  it('counts attempts still being verified: parallel guesses cannot overtake the limit', () => {
    const throttle = new LoginThrottle(() => settings);
    assert.equal(throttle.begin('10.0.0.9').wait, 0);
    assert.equal(throttle.begin('10.0.0.9').wait, 0);
    assert.equal(throttle.begin('10.0.0.9').wait, 0);
    assert.equal(throttle.begin('10.0.0.9').wait, 1, 'a fourth waits while three are running');
    throttle.finish('10.0.0.9', 'probe', 'none', { wait: 0, counted: true }); // one never ran (overload): not a failure
    assert.equal(throttle.begin('10.0.0.9').wait, 0);
  });

  it('forgets failures older than the window, and a client’s failures after it logs in to that account', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => settings, () => now);
    fail(throttle, '10.0.0.1');
    fail(throttle, '10.0.0.1');
    now += 61_000;
    fail(throttle, '10.0.0.1');
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 0, 'a new window started');
    fail(throttle, '10.0.0.1');
    throttle.succeeded('10.0.0.1', 'probe');
    fail(throttle, '10.0.0.1');
    fail(throttle, '10.0.0.1');
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 0, 'the success reset the count');
  });

  it('does not let one valid account reset the failures on others', () => {
    const throttle = new LoginThrottle(() => settings);
    fail(throttle, '10.0.0.7', 'admin');
    fail(throttle, '10.0.0.7', 'admin');
    throttle.succeeded('10.0.0.7', 'my-own-account');
    fail(throttle, '10.0.0.7', 'admin');
    assert.ok(throttle.retryAfterSeconds('10.0.0.7') > 0);
  });

  it('exempts loopback only when configured', () => {
    const strict = new LoginThrottle(() => settings);
    const lenient = new LoginThrottle(() => ({ ...settings, exemptLoopback: true }));
    for (let i = 0; i < 3; i++) {
      fail(strict, '127.0.0.1');
      fail(lenient, '::1');
      fail(lenient, '127.0.0.5');
    }
    assert.ok(strict.retryAfterSeconds('127.0.0.1') > 0);
    assert.equal(lenient.retryAfterSeconds('::1'), 0);
    assert.equal(lenient.retryAfterSeconds('127.0.0.5'), 0);
    const off = new LoginThrottle(() => ({ ...settings, enabled: false }));
    for (let i = 0; i < 5; i++) fail(off, '10.0.0.1');
    assert.equal(off.retryAfterSeconds('10.0.0.1'), 0);
  });

  it('counts IPv4-mapped addresses as IPv4 and IPv6 clients by /64', () => {
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.ok(isLoopbackAddress('::ffff:127.0.0.1'));
    assert.ok(!isLoopbackAddress('10.0.0.1'));
    const throttle = new LoginThrottle(() => settings);
    for (const host of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2::c']) fail(throttle, host);
    assert.ok(throttle.retryAfterSeconds('2001:db8:1:2::d') > 0, 'rotating inside the /64 does not help');
  });
  it('keeps no record of a verification that never ran (overload)', () => {
    const throttle = new LoginThrottle(() => settings);
    const first = throttle.begin('192.0.2.9');
    assert.equal(first.wait, 0);
    assert.equal(throttle.trackedClients, 1, 'counted while it runs');
    throttle.finish('192.0.2.9', 'u', 'none', first);
    assert.equal(throttle.trackedClients, 0);
    const second = throttle.begin('192.0.2.9');
    throttle.finish('192.0.2.9', 'u', 'failure', second);
    assert.equal(throttle.trackedClients, 1, 'a failure is remembered');
  });
  it('takes a running attempt off even when a reload switched the throttle off meanwhile', () => {
    let current = { ...settings, maxFailures: 1 };
    const throttle = new LoginThrottle(() => current);
    const attempt = throttle.begin('192.0.2.10');
    current = { ...current, enabled: false };
    throttle.finish('192.0.2.10', 'u', 'success', attempt);
    current = { ...current, enabled: true };
    assert.equal(throttle.begin('192.0.2.10').wait, 0, 'not blocked by an attempt that ended long ago');
    assert.equal(throttle.trackedClients, 1);
  });
});

describe('login throttle: blockedList and release (GET /throttled, POST /throttled/release)', () => {
  const cases: { name: string; failures: string[]; release: string; released: boolean; left: string[] }[] = [
    { name: 'a blocked IPv4 client', failures: ['10.0.0.1', '10.0.0.1', '10.0.0.1'], release: '10.0.0.1', released: true, left: [] },
    { name: 'an IPv4-mapped address releases the IPv4 client', failures: ['10.0.0.2', '10.0.0.2', '10.0.0.2'], release: '::ffff:10.0.0.2', released: true, left: [] },
    { name: 'an IPv6 client by its /64, released by the key', failures: ['2001:db8::1', '2001:db8::2', '2001:db8::3'], release: '2001:db8:0:0::/64', released: true, left: [] },
    { name: 'an IPv6 client released by any address of its /64', failures: ['2001:db8::1', '2001:db8::1', '2001:db8::1'], release: '2001:db8:0:0:ffff::9', released: true, left: [] },
    { name: 'a client with failures but no block yet', failures: ['10.0.0.3'], release: '10.0.0.3', released: true, left: [] },
    { name: 'an unknown client', failures: ['10.0.0.4', '10.0.0.4', '10.0.0.4'], release: '10.0.0.5', released: false, left: ['10.0.0.4'] },
    { name: 'nothing tracked', failures: [], release: '10.0.0.6', released: false, left: [] },
  ];
  for (const { name, failures, release, released, left } of cases) {
    it(name, () => {
      const now = 1_000_000;
      const throttle = new LoginThrottle(() => settings, () => now);
      for (const address of failures) fail(throttle, address);
      assert.equal(throttle.release(release), released);
      assert.deepEqual(throttle.blockedList().map((client) => client.address), left);
      if (released) assert.equal(throttle.begin(failures[0] ?? release).wait, 0, 'may try again at once');
    });
  }

  it('lists blocked clients only, with their failures and when the block ends', () => {
    const now = 5_000_000;
    const throttle = new LoginThrottle(() => settings, () => now);
    for (let i = 0; i < 3; i++) fail(throttle, '10.1.0.1');
    fail(throttle, '10.1.0.2');
    for (let i = 0; i < 3; i++) fail(throttle, '2001:db8:1::7');
    assert.deepEqual(throttle.blockedList(), [
      { address: '10.1.0.1', failures: 3, blockedUntil: new Date(now + 60_000) },
      { address: '2001:db8:1:0::/64', failures: 3, blockedUntil: new Date(now + 60_000) },
    ]);
  });

  it('a block that is over is not listed, nor released', () => {
    let now = 5_000_000;
    const throttle = new LoginThrottle(() => settings, () => now);
    for (let i = 0; i < 3; i++) fail(throttle, '10.2.0.1');
    now += 61_000;
    assert.deepEqual(throttle.blockedList(), []);
    assert.equal(throttle.release('10.2.0.1'), true, 'its failures are still on record until its window is evicted');
    assert.equal(throttle.release('10.2.0.1'), false);
  });

  it('a release keeps verifications still running counted', () => {
    const now = 5_000_000;
    const throttle = new LoginThrottle(() => ({ ...settings, maxFailures: 2 }), () => now);
    fail(throttle, '10.3.0.1');
    const running = throttle.begin('10.3.0.1');
    assert.equal(running.wait, 0);
    assert.equal(throttle.release('10.3.0.1'), true);
    assert.equal(throttle.begin('10.3.0.1').wait, 0, 'one running, one more allowed');
    assert.equal(throttle.begin('10.3.0.1').wait, 1, 'the running ones count against the limit');
    throttle.finish('10.3.0.1', 'probe', 'failure', running);
  });
});
