import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VerificationCache } from '../src/accounts/verification-cache.js';

describe('verification cache', () => {
  it('keys entries by realm, user, stored secret and password, never holding the password', () => {
    const cache = new VerificationCache();
    const base = cache.entryFor('managementAPI', 'admin', 'AA:BB', 's3cret-p@ss');
    // A fixed-size digest (SHA-256, base64) whatever the input: nothing of the password is kept.
    assert.match(base, /^[A-Za-z0-9+/]{43}=$/);
    assert.match(cache.entryFor('r', 'u', 's', 'x'.repeat(5000)), /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(cache.entryFor('managementAPI', 'admin', 'AA:BB', 's3cret-p@ss'), base);
    for (const other of [
      cache.entryFor('metricsAPI', 'admin', 'AA:BB', 's3cret-p@ss'),
      cache.entryFor('managementAPI', 'Admin', 'AA:BB', 's3cret-p@ss'),
      cache.entryFor('managementAPI', 'admin', 'AA:BC', 's3cret-p@ss'),
      cache.entryFor('managementAPI', 'admin', 'AA:BB', 's3cret-p@sS'),
    ]) {
      assert.notEqual(other, base);
    }
  });

  it('does not let field boundaries collide', () => {
    const cache = new VerificationCache();
    assert.notEqual(cache.entryFor('r', 'ab', 'S', 'c'), cache.entryFor('r', 'a', 'S', 'bc'));
    assert.notEqual(cache.entryFor('r', 'u', 'S:', 'p'), cache.entryFor('r', 'u', 'S', ':p'));
  });

  it('uses a key of its own per instance (per process)', () => {
    assert.notEqual(new VerificationCache().entryFor('r', 'u', 's', 'p'), new VerificationCache().entryFor('r', 'u', 's', 'p'));
  });

  it('stays within its bound, evicting the least recently used entry', () => {
    const cache = new VerificationCache(3);
    const entries = ['a', 'b', 'c', 'd'].map((p) => cache.entryFor('r', 'u', 's', p));
    const [a = '', b = '', c = '', d = ''] = entries;
    cache.add(a);
    cache.add(b);
    cache.add(c);
    assert.equal(cache.has(a), true); // a is now the most recent
    cache.add(d);
    assert.equal(cache.size, 3);
    assert.equal(cache.has(b), false, 'b was the least recently used');
    assert.equal(cache.has(a), true);
    assert.equal(cache.has(c), true);
    assert.equal(cache.has(d), true);
    for (let i = 0; i < 100; i++) cache.add(cache.entryFor('r', 'u', 's', String(i)));
    assert.equal(cache.size, 3);
  });

  it('refuses a nonsensical bound', () => {
    assert.throws(() => new VerificationCache(0), RangeError);
  });
});
