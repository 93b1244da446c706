import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { indexAccounts } from '../src/accounts/accounts.js';
import { findPublicCredentials, PUBLISHED_SECRETS } from '../src/accounts/public-credentials.js';
import { createSecret } from '../src/accounts/secret.js';
import { PRODUCT_SHUTDOWN_KEY, publicShutdownKeyWarning } from '../src/accounts/shutdown-key.js';
import type { KeepConfig } from '../src/config/schema.js';

/**
 * Every credential the product's docs publish (docs/security.md#published-example-credentials):
 * an account holding it is found by the scan, whether its secret is the published one or salted anew.
 */
const PUBLISHED_PAIRS: { password: string; secret?: string; where: string }[] = [
  { password: 'password', secret: 'E4B321EBA91B7F92D9BF5EAFA5322824FEC2287B8A6C133D7C31EFB706A2BA30:1A57478185E7AF3A98F01ECA08F0BA881DBC88BEC60AE8C6F1B1CC5CC55C11A20F676E082BF2D28BB96DB5A8CFB091C767C035B380DB4CBC7D1001EA8BE01663', where: 'references/functionalUsers.md' },
  { password: 'metrics', secret: '13549ED65AD8760294B9DC898C44F8ABEED399ABB1CA7DC51E8CCFF461D56D13:32BDC8A5DF60FCE424299543DFFF408F500DB1B1EEC4FAB848AA0ED794F5D89AA65A5449EC36BF9CBF53980E4B7DF2B3A3581186E409F5B69BC0C16E51237CC8', where: 'functionalUsers.md, quickstart metrics/metrics' },
  { password: 'supersecret', secret: 'FA1D8FC7DAA715F20A3C19F62451DCD011483EFBABE46A1C03F2CF0702365726:0A2AC2338974379073BEF880B2EA9E4FE86651974C83D3958DB73C81047CF3815456678A3EE206975CE17B7874589478A2FC92DCDF2C1794087AED94BF8FD4CA', where: 'walkthrough/lab-09.md' },
  { password: 'Pretzel', secret: 'F7C12E11E87D7F29DFA05A691F26DE250E71ADB4771732655A566696C815F3BD:BC9B8AB4F3FA96830F29247EC4C2DED040812808BDCA8EA6842AE96BE5766D9820C2B3EC240EDFC60EA9281D5AC347DD5C703160D9CEF1AC1CBE9AC8C9DE6B0C', where: 'dachnug2023.postman_collection.json' },
  { password: PRODUCT_SHUTDOWN_KEY, where: 'pre_shutdown_script, postmancurl.md' },
  { password: 'passw0rd', where: 'walkthrough/lab-01.md' },
  { password: 'P@$$w0rd1352', where: 'configuration/secureport.md' },
  { password: 'password-in-clear-protect-this', where: '.snippets/tlssettings.md' },
  { password: 'default-super-secret-user-password', where: 'downloads/DominoAutoConfig.json' },
];

function identity(data: Record<string, string>): KeepConfig['identity'] {
  return {
    healthcheckAPI: {},
    managementAPI: {},
    metricsAPI: Object.fromEntries(Object.entries(data).map(([name, secret]) => [name, { active: true, secret }])),
    singleDbModeUsers: {},
  };
}

describe('published example credentials are detected (table)', () => {
  it('each published secret is on the list, and opens with its published password', async () => {
    const { verifyPassword, parseSecret } = await import('../src/accounts/secret.js');
    for (const pair of PUBLISHED_PAIRS.filter((p) => p.secret !== undefined)) {
      const secret = pair.secret ?? '';
      assert.ok(PUBLISHED_SECRETS.has(secret), pair.where);
      const parsed = parseSecret(secret);
      assert.ok(parsed && (await verifyPassword(parsed, pair.password)), `${pair.where}: the secret is of ${pair.password}`);
    }
  });

  it('an account holding any of them, as published or salted anew, is found; a private one is not', async () => {
    const accounts: Record<string, string> = { private: await createSecret('a-private-passphrase-9') };
    for (const [index, pair] of PUBLISHED_PAIRS.entries()) {
      if (pair.secret !== undefined) accounts[`published-${index}`] = pair.secret.toLowerCase();
      accounts[`fresh-${index}`] = await createSecret(pair.password);
    }
    const found = new Set((await findPublicCredentials(indexAccounts(identity(accounts)))).map((c) => c.account));
    for (const name of Object.keys(accounts)) assert.equal(found.has(name), name !== 'private', name);
  });

  it('a configured shutdownkey that is public is warned about, plain or salted', async () => {
    const table: [string, boolean][] = [
      [PRODUCT_SHUTDOWN_KEY, true],
      ['supersecret', true],
      [await createSecret(PRODUCT_SHUTDOWN_KEY), true],
      [PUBLISHED_PAIRS[0]?.secret ?? '', true],
      ['a private key 7', false],
      [await createSecret('a private key 8'), false],
    ];
    for (const [stored, warned] of table) {
      const warning = await publicShutdownKeyWarning(stored);
      assert.equal(warning !== undefined, warned, stored.slice(0, 30));
      if (warning) assert.ok(!warning.includes(PRODUCT_SHUTDOWN_KEY));
    }
    assert.equal(await publicShutdownKeyWarning(undefined), undefined);
  });
});
