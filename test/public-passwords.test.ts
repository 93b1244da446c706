import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { indexAccounts } from '../src/accounts/accounts.js';
import { findPublicCredentials, secretsJudged } from '../src/accounts/public-credentials.js';
import { createSecret } from '../src/accounts/secret.js';
import type { KeepConfig } from '../src/config/schema.js';
import { PUBLISHED } from './helpers/published.js';

function identity(data: Record<string, string>): KeepConfig['identity'] {
  return {
    healthcheckAPI: {},
    managementAPI: {},
    metricsAPI: {},
    singleDbModeUsers: Object.fromEntries(Object.entries(data).map(([name, secret]) => [name, { active: true, secret }])),
  };
}

describe('the search for public passwords', () => {
  it('judges a secret once while it stays: a reload pays only for what changed', async () => {
    const [a, b, c, open] = [await createSecret('a-private-1'), await createSecret('b-private-2'), await createSecret('c-private-3'), await createSecret('')];
    const before = secretsJudged();
    const first = await findPublicCredentials(indexAccounts(identity({ alice: a, bob: b, carol: b, empty: open, doc: PUBLISHED.password })));
    assert.deepEqual(first.map((c) => c.account).sort(), ['doc', 'empty'], 'the empty password and a published secret are public');
    assert.equal(secretsJudged() - before, 3, 'a, b (shared by two accounts) and the empty one; the published one costs nothing');
    await findPublicCredentials(indexAccounts(identity({ alice: a, bob: b, carol: b, empty: open, doc: PUBLISHED.password })));
    assert.equal(secretsJudged() - before, 3, 'the same configuration again: nothing judged');
    await findPublicCredentials(indexAccounts(identity({ alice: a, bob: c, empty: open })));
    assert.equal(secretsJudged() - before, 4, 'one new secret: one judged');
  });

  it('says how far it is, and stops when told to', async () => {
    const secret = await createSecret('shared-private-4');
    const accounts = indexAccounts(identity(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`u${i}`, secret]))));
    const seen: number[] = [];
    await findPublicCredentials(accounts, { onProgress: (checked) => seen.push(checked) });
    assert.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i + 1));
    const stopped = new AbortController();
    stopped.abort();
    let checked = 0;
    assert.deepEqual(await findPublicCredentials(accounts, { onProgress: (n) => (checked = n), signal: stopped.signal }), []);
    assert.equal(checked, 0);
  });
});
