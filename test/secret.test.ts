import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSecret, parseSecret, verifyPassword } from '../src/accounts/secret.js';
import { SECRET_PATTERN } from '../src/config/secret-format.js';
import { PUBLISHED } from './helpers/published.js';

function mustParse(secret: string) {
  const parsed = parseSecret(secret);
  assert.ok(parsed, `secret should parse: ${secret.slice(0, 8)}…`);
  return parsed;
}

describe('salted secrets (product format)', () => {
  it('accepts both pairs published in the product docs', async () => {
    assert.equal(await verifyPassword(mustParse(PUBLISHED.password), 'password'), true);
    assert.equal(await verifyPassword(mustParse(PUBLISHED.metrics), 'metrics'), true);
  });

  it('refuses wrong passwords, including near misses and the other pair', async () => {
    for (const guess of ['passwordx', 'Password', 'password ', '', 'metrics']) {
      assert.equal(await verifyPassword(mustParse(PUBLISHED.password), guess), false, guess);
    }
    assert.equal(await verifyPassword(mustParse(PUBLISHED.metrics), 'password'), false);
  });

  it('accepts lower-case hex on input', async () => {
    assert.equal(await verifyPassword(mustParse(PUBLISHED.password.toLowerCase()), 'password'), true);
  });

  it('rejects malformed secrets instead of decoding a truncated salt', () => {
    const [hash = '', salt = ''] = PUBLISHED.password.split(':');
    const bad = [
      '',
      hash,
      `${hash}${salt}`,
      `${hash}:${salt.slice(0, -1)}G`, // Buffer.from would stop silently at G
      `${hash}:${salt}0`,
      `${hash.slice(2)}:${salt}`,
      ` ${hash}:${salt}`,
      `${hash}:${salt}\n`,
      `${hash}::${salt}`,
      `${hash}:${salt}:${salt}`,
    ];
    for (const secret of bad) assert.equal(parseSecret(secret), undefined, JSON.stringify(secret.slice(0, 12)));
  });

  it('creates upper-case HASH:SALT secrets with a fresh 64-byte salt each time', async () => {
    const a = await createSecret('Tr0ub4dor&3');
    const b = await createSecret('Tr0ub4dor&3');
    for (const secret of [a, b]) {
      assert.match(secret, SECRET_PATTERN);
      assert.equal(secret, secret.toUpperCase());
      assert.equal(secret.split(':')[1]?.length, 128);
    }
    assert.notEqual(a.split(':')[1], b.split(':')[1]);
    assert.equal(await verifyPassword(mustParse(a), 'Tr0ub4dor&3'), true);
    assert.equal(await verifyPassword(mustParse(a), 'Tr0ub4dor&4'), false);
  });

  it('hashes the password as UTF-8, like the product (Java)', async () => {
    const secret = await createSecret('pässwörd ✓');
    const parsed = mustParse(secret);
    const expected = pbkdf2Sync(Buffer.from('pässwörd ✓', 'utf8'), parsed.salt, 32768, 32, 'sha256');
    assert.deepEqual(parsed.hash, expected);
    assert.equal(await verifyPassword(parsed, 'pässwörd ✓'), true);
    assert.equal(await verifyPassword(parsed, 'passwort ✓'), false);
  });

  it('verifies off the event loop: other callbacks run while PBKDF2 works', async () => {
    const order: string[] = [];
    const verifications = Promise.all(
      Array.from({ length: 4 }, () => verifyPassword(mustParse(PUBLISHED.password), 'password').then(() => order.push('verified'))),
    );
    setImmediate(() => order.push('immediate'));
    await verifications;
    assert.equal(order[0], 'immediate', 'a synchronous PBKDF2 would have run before the setImmediate callback');
  });
});
