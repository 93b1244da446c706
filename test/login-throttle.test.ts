import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientKey, isLoopback, LoginThrottle } from '../src/accounts/login-throttle.js';

const settings = { enabled: true, maxFailures: 3, windowSeconds: 60, exemptLoopback: false };

describe('login throttle', () => {
  it('blocks a client for one window after maxFailures failures, and only that client', () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle(settings, () => now);
    throttle.recordFailure('10.0.0.1');
    throttle.recordFailure('10.0.0.1');
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 0);
    throttle.recordFailure('10.0.0.1');
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 60);
    assert.equal(throttle.retryAfterSeconds('10.0.0.2'), 0);
    assert.equal(throttle.blockedClients(), 1);
    now += 59_500;
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 1);
    now += 600;
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 0);
  });

  it('forgets failures older than the window, and all of them after a success', () => {
    let now = 0;
    const throttle = new LoginThrottle(settings, () => now);
    throttle.recordFailure('10.0.0.1');
    throttle.recordFailure('10.0.0.1');
    now += 61_000;
    throttle.recordFailure('10.0.0.1');
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 0, 'a new window started');
    throttle.recordFailure('10.0.0.1');
    throttle.recordSuccess('10.0.0.1');
    throttle.recordFailure('10.0.0.1');
    throttle.recordFailure('10.0.0.1');
    assert.equal(throttle.retryAfterSeconds('10.0.0.1'), 0, 'the success reset the count');
  });

  it('exempts loopback only when configured', () => {
    const strict = new LoginThrottle(settings);
    const lenient = new LoginThrottle({ ...settings, exemptLoopback: true });
    for (let i = 0; i < 3; i++) {
      strict.recordFailure('127.0.0.1');
      lenient.recordFailure('::1');
      lenient.recordFailure('127.0.0.5');
    }
    assert.ok(strict.retryAfterSeconds('127.0.0.1') > 0);
    assert.equal(lenient.retryAfterSeconds('::1'), 0);
    assert.equal(lenient.retryAfterSeconds('127.0.0.5'), 0);
    assert.equal(new LoginThrottle({ ...settings, enabled: false }).retryAfterSeconds('10.0.0.1'), 0);
  });

  it('counts IPv4-mapped addresses as IPv4 and IPv6 clients by /64', () => {
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.ok(isLoopback('::ffff:127.0.0.1'));
    assert.ok(!isLoopback('10.0.0.1'));
    const throttle = new LoginThrottle(settings);
    for (const host of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2::c']) throttle.recordFailure(host);
    assert.ok(throttle.retryAfterSeconds('2001:db8:1:2::d') > 0, 'rotating inside the /64 does not help');
  });
});
