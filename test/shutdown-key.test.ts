import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { matchesShutdownKey, plainShutdownKeyWarning } from '../src/accounts/shutdown-key.js';
import { createSecret } from '../src/accounts/secret.js';
import { builtInDefaults } from '../src/config/defaults.js';
import { maskConfig } from '../src/config/mask.js';
import { configSchema } from '../src/config/schema.js';
import { request, TEST_CA } from './helpers/http-client.js';
import { failedStart, startKeepd } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

/** What the product's pre_shutdown_script and Postman collection send. */
const PRODUCT_KEY = 'The End is near!!';
const PRODUCT_BODY = { shutdownkey: PRODUCT_KEY, StopServer: true };
const direct = <T>(work: () => Promise<T>): Promise<T> => work();

describe('shutdownkey: salted or plain', () => {
  it('accepts a plain or salted key in the configuration, refuses a mistyped salted one (table)', async () => {
    const salted = await createSecret(PRODUCT_KEY);
    const table: [unknown, boolean][] = [
      [PRODUCT_KEY, true],
      [salted, true],
      [salted.toLowerCase(), true],
      ['x', true],
      ['ABC:DEF', false], // hex:hex of the wrong lengths: a damaged salted secret, not a passphrase
      [salted.slice(0, -1), false],
      ['', false],
      ['x'.repeat(1025), false],
      [42, false],
    ];
    for (const [shutdownkey, ok] of table) {
      assert.equal(configSchema.safeParse({ ...builtInDefaults(), shutdownkey }).success, ok, String(shutdownkey).slice(0, 40));
    }
  });

  it('matches a plain key exactly, in constant time, and a salted one by PBKDF2 (table)', async () => {
    const salted = await createSecret(PRODUCT_KEY);
    const table: [string, string, boolean][] = [
      [PRODUCT_KEY, PRODUCT_KEY, true],
      [PRODUCT_KEY, 'The End is near!', false],
      [PRODUCT_KEY, 'the end is near!!', false],
      [PRODUCT_KEY, '', false],
      [PRODUCT_KEY, `${PRODUCT_KEY} `, false],
      [salted, PRODUCT_KEY, true],
      [salted, 'wrong', false],
      [salted, salted, false], // the stored secret itself is not the key
    ];
    for (const [stored, offered, match] of table) assert.equal(await matchesShutdownKey(stored, offered, direct), match, `${stored.slice(0, 20)} / ${offered}`);
    assert.match(plainShutdownKeyWarning(PRODUCT_KEY) ?? '', /plain passphrase.*keepd salt/);
    assert.doesNotMatch(plainShutdownKeyWarning(PRODUCT_KEY) ?? '', /End is near/);
    assert.equal(plainShutdownKeyWarning(salted), undefined);
    assert.equal(plainShutdownKeyWarning(undefined), undefined);
    assert.equal(maskConfig({ shutdownkey: PRODUCT_KEY }).shutdownkey, '***');
  });

  it("end to end: a plain key from an old configuration; the product script's body stops keepd (202, exit 0); wrong key 403; never shown", async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem, 'legacy.json': { shutdownkey: PRODUCT_KEY } });
    const keepd = await startKeepd(dir, { env: { LOG_LEVEL: 'trace' } });
    const mgmt = (route: string): string => `https://127.0.0.1:${keepd.ports.management ?? 0}${route}`;
    const asAdmin = { auth: [...USERS.management] as [string, string] };
    let stopped = false;
    try {
      assert.ok(keepd.logs.some((line) => line.level === 40 && /shutdownkey is a plain passphrase/.test(line.msg)), 'warned at start');
      assert.equal((await request(mgmt('/shutdown'), { ...asAdmin, method: 'POST', body: { shutdownkey: 'The End is near!', StopServer: true } })).status, 403);
      assert.equal((await request(mgmt('/shutdown'), { ...asAdmin, method: 'POST', body: { StopServer: true } })).status, 403);
      assert.equal((await request(mgmt('/shutdown'), { ...asAdmin, method: 'POST' })).status, 403);
      // POST /reload takes the product collection's body too, and needs no key.
      assert.equal((await request(mgmt('/reload'), { ...asAdmin, method: 'POST', body: PRODUCT_BODY })).status, 200);
      assert.equal((await request(mgmt('/reload'), { ...asAdmin, method: 'POST' })).status, 200);

      // Masked everywhere a salted one is: GET /config, its sources, /info's warnings, /log, the support package.
      const shown: string[] = [];
      for (const route of ['/config', '/config?sources', '/config/sources', '/info', '/log?level=trace&limit=1000']) shown.push((await request(mgmt(route), asAdmin)).body);
      assert.equal((JSON.parse(shown[0] ?? '{}') as { shutdownkey?: string }).shutdownkey, '***');
      assert.match(shown[3] ?? '', /shutdownkey is a plain passphrase/);
      assert.match(shown[3] ?? '', /shutdownkey is published in the product's documentation/, 'the scripts\' key is public');
      const support = await new Promise<Buffer>((resolve, reject) => {
        const authorization = `Basic ${Buffer.from(USERS.management.join(':')).toString('base64')}`;
        httpsRequest(mgmt('/support'), { ca: TEST_CA, headers: { authorization } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        }).on('error', reject).end();
      });
      shown.push(gunzipSync(support).toString('latin1'));
      for (const text of shown) assert.ok(text.length > 0 && !text.includes('End is near'), text.slice(0, 200));

      const response = await request(mgmt('/shutdown'), { ...asAdmin, method: 'POST', body: PRODUCT_BODY });
      assert.equal(response.status, 202);
      assert.equal(await keepd.exited, 0);
      stopped = true;
      assert.ok(!keepd.stdout().includes('End is near') && !keepd.stderr().includes('End is near'), 'not in the log');
    } finally {
      if (!stopped) await keepd.stop();
    }
  });

  it('a mistyped salted key is refused at start, the problem not showing it', async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'k.json': { shutdownkey: 'ABCDEF:0123' } });
    const { code, stderr } = await failedStart(dir);
    assert.equal(code, 2);
    assert.match(stderr, /k\.json: shutdownkey: expected a salted secret/);
    assert.ok(!stderr.includes('ABCDEF:0123'), stderr);
  });
});
