import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { indexAccounts, quoteName, unusableAccountNames, whyNameCannotLogIn } from '../src/accounts/accounts.js';
import { saltPlatformPassword } from '../src/accounts/platform-secret.js';
import { findPublicCredentials, PUBLIC_PASSWORDS, PUBLISHED_SECRETS } from '../src/accounts/public-credentials.js';
import { createSecret } from '../src/accounts/secret.js';
import { assembleConfig } from '../src/config/assemble.js';
import { formatProblem } from '../src/config/problems.js';
import type { KeepConfig } from '../src/config/schema.js';
import { parseBasicAuthorization } from '../src/auth/authenticate.js';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { PUBLISHED } from './helpers/published.js';
import { runCli } from './helpers/run-cli.js';
import { TEST_BASE, TLS_CONFIGS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

/*
 * Accounts an attacker or a careless admin might configure: an empty password, names that are
 * special to JavaScript objects, names that HTTP Basic cannot carry.
 */

function identity(accounts: Partial<KeepConfig['identity']>): KeepConfig['identity'] {
  return { healthcheckAPI: {}, managementAPI: {}, metricsAPI: {}, singleDbModeUsers: {}, ...accounts };
}

/** A JSON text: an object literal with a `__proto__` key would set the prototype instead. */
const protoAccount = (secret: string): string => `{"identity": {"managementAPI": {"__proto__": {"active": true, "secret": "${secret}"}, "constructor": {"active": true, "secret": "${secret}"}, "toString": {"active": true, "secret": "${secret}"}}}}`;

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

describe('hostile accounts', () => {
  describe('an empty password is public', () => {
    it('"" is one of the public passwords, checked like the others', async () => {
      assert.ok((PUBLIC_PASSWORDS as readonly string[]).includes(''));
      const empty = await createSecret('');
      const other = await createSecret('not-a-public-password');
      const found = await findPublicCredentials(indexAccounts(identity({
        managementAPI: { blank: { active: true, secret: empty }, fine: { active: true, secret: other } },
        metricsAPI: { published: { active: false, secret: PUBLISHED.metrics } },
      })));
      assert.deepEqual(found.map((c) => c.account).sort(), ['blank', 'published']);
      // The published secrets still need no PBKDF2, and the verdict for a secret is remembered.
      assert.ok(PUBLISHED_SECRETS.has(PUBLISHED.password));
      const again = await findPublicCredentials(indexAccounts(identity({ singleDbModeUsers: { copy: { active: true, secret: empty.toLowerCase() } } })));
      assert.deepEqual(again.map((c) => c.account), ['copy'], 'same secret, other case: same verdict');
    });

    it('keepd check warns about it, and --strict refuses it', async () => {
      const dir = await tempDir({ 'users.json': { identity: { managementAPI: { blank: { active: true, secret: await createSecret('') } } } } });
      const plain = await runCli(['check', '--config-dir', dir]);
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stderr, /warning: account "blank" of identity\.managementAPI \(management listener\) has a password published/);
      const strict = await runCli(['check', '--strict', '--config-dir', dir]);
      assert.equal(strict.code, 2, strict.stderr);
      assert.match(strict.stderr, /strict: account "blank" of identity\.managementAPI/);
    });
  });

  describe('an account named __proto__ works like any other', () => {
    let password: string;
    let secret: string;
    before(async () => {
      password = 'proto-pw-1';
      secret = await createSecret(password);
    });

    it('is validated and indexed with own-property semantics', async () => {
      const result = await assembleConfig(await tempDir({ 'users.json': protoAccount(secret) }), {}, saltPlatformPassword);
      assert.ok(result.ok, JSON.stringify(result));
      const realm = result.loaded.config.identity.managementAPI;
      assert.deepEqual(Object.keys(realm), ['__proto__', 'constructor', 'toString']);
      assert.equal(Object.getPrototypeOf(realm), Object.prototype, 'the record itself was not re-prototyped');
      const index = indexAccounts(result.loaded.config.identity).get('managementAPI');
      assert.deepEqual([...(index?.keys() ?? [])], ['__proto__', 'constructor', 'toString']);
      assert.equal(index?.get('__proto__')?.storedSecret, secret);
    });

    it('is refused like any other account when it is malformed, under its own name', async () => {
      const result = await assembleConfig(await tempDir({ 'users.json': '{"identity": {"managementAPI": {"__proto__": {"active": "yes", "secret": "hunter2"}}, "metricsAPI": {"__proto__": "pasted-password"}}}' }), {}, saltPlatformPassword);
      assert.ok(!result.ok);
      const text = result.problems.map(formatProblem).join('\n');
      assert.match(text, /users\.json: identity\.managementAPI\.__proto__\.active: expected true or false, found the string "yes"/);
      assert.match(text, /users\.json: identity\.managementAPI\.__proto__\.secret: expected a salted secret .*found a string of 7 character\(s\) \(not shown: secret\)/);
      assert.match(text, /users\.json: identity\.metricsAPI\.__proto__: expected an account object .*\(not shown: secret\)/);
      assert.ok(!text.includes('hunter2') && !text.includes('pasted-password'));
    });

    it('keepd check lists it, masked, and counts it', async () => {
      const dir = await tempDir({ 'users.json': protoAccount(secret) });
      const run = await runCli(['check', '--config-dir', dir]);
      assert.equal(run.code, 0, run.stderr);
      const printed = JSON.parse(run.stdout) as { identity: { managementAPI: Record<string, unknown> } };
      assert.deepEqual(Object.keys(printed.identity.managementAPI), ['__proto__', 'constructor', 'toString']);
      assert.deepEqual(Object.getOwnPropertyDescriptor(printed.identity.managementAPI, '__proto__')?.value, { active: true, secret: '***' });
      assert.ok(!run.stderr.includes('no active account in identity.managementAPI'), run.stderr);
    });

    describe('and logs in', () => {
      let keepd: KeepdProcess;
      before(async () => {
        const dir = await tempDir({ 'users.json': protoAccount(secret), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pfx });
        keepd = await startKeepd(dir, { env: { HEALTHCHECK_USER: '__proto__', HEALTHCHECK_PASSWORD: 'health-proto-pw' } });
      });
      after(() => keepd.stop());

      it('on management with its password, and only with it', async () => {
        const url = `https://127.0.0.1:${keepd.ports.management ?? 0}/info`;
        for (const name of ['__proto__', 'constructor', 'toString']) {
          assert.equal((await request(url, { headers: { authorization: basic(name, password) } })).status, 200, name);
          assert.equal((await request(url, { headers: { authorization: basic(name, 'wrong') } })).status, 401, name);
        }
        const info = (await request(url, { headers: { authorization: basic('__proto__', password) } })).json() as { accounts: Record<string, number> };
        assert.equal(info.accounts.managementAPI, 3);
        assert.equal((await request(url, { headers: { authorization: basic('hasOwnProperty', password) } })).status, 401, 'an inherited name is not an account');
      });

      it('as HEALTHCHECK_USER=__proto__ on health', async () => {
        const url = `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;
        assert.equal((await request(url, { headers: { authorization: basic('__proto__', 'health-proto-pw') } })).status, 200);
        assert.equal((await request(url, { headers: { authorization: basic('__proto__', password) } })).status, 401);
      });
    });
  });

  describe('names that HTTP Basic cannot carry', () => {
    const usable = ['Doctor Notes', '', 'ünïcødé', 'emoji 😀', 'C1\u0085control', 'back\\slash', ' padded ', 'mid\ufeffdle'];
    const unusable: [string, RegExp][] = [
      ['svc:backup', /ends the user name at the first ":"/],
      ['tab\tuser', /control character/],
      ['nul\u0000', /control character/],
      ['del\u007f', /control character/],
      ['line\nbreak', /control character/],
      ['lone \ud800 surrogate', /not valid Unicode/],
      ['\ufeffadmin', /byte order mark/],
    ];

    it('unusableAccountNames names each account, its realm and listener, and why', () => {
      const accounts = Object.fromEntries([...usable, ...unusable.map(([name]) => name)].map((name) => [name, { active: true, secret: PUBLISHED.password }]));
      const warnings = unusableAccountNames(indexAccounts(identity({ managementAPI: accounts, metricsAPI: { 'a:b': { active: false, secret: PUBLISHED.metrics } } })));
      assert.equal(warnings.length, unusable.length + 1, warnings.join('\n'));
      for (const [name, why] of unusable) {
        const warning = warnings.find((w) => w.startsWith(`account ${quoteName(name)} of identity.managementAPI can never log in to the management listener: `));
        assert.ok(warning, `no warning for ${JSON.stringify(name)}`);
        assert.match(warning, why);
      }
      assert.ok(warnings.some((w) => w.startsWith('account "a:***" of identity.metricsAPI can never log in to the metrics listener')), 'inactive accounts too: activating them would not help');
      // eslint-disable-next-line no-control-regex
      for (const warning of warnings) assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(warning), 'control characters are escaped');
      assert.equal(quoteName('del\u007f \u009b[31m \u202e'), '"del\\u007f \\u009b[31m \\u202e"');
    });

    it('says an account cannot log in exactly when parseBasicAuthorization cannot give its name back', () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ unit: fc.constantFrom(':', '\t', '\u007f', '\ud800', '\udc00', '\ufeff', 'a', 'é', '😀') })), (name) => {
          const parsed = parseBasicAuthorization(basic(name, 'pw'));
          const roundTrips = typeof parsed === 'object' && parsed.user === name && parsed.password === 'pw';
          assert.equal(whyNameCannotLogIn(name) === undefined, roundTrips, JSON.stringify(name));
        }),
        { numRuns: 2000 },
      );
    });

    describe('end to end', () => {
      let keepd: KeepdProcess;
      let dir: string;
      before(async () => {
        const secret = await createSecret('colon-pw');
        dir = await tempDir({
          'users.json': { identity: { managementAPI: { 'svc:backup': { active: true, secret }, 'tab\tuser': { active: true, secret }, admin: { active: true, secret } } } },
          'ports.json': TEST_BASE,
          'tls.json': TLS_CONFIGS.pfx,
        });
        keepd = await startKeepd(dir);
      });
      after(() => keepd.stop());

      it('such an account indeed never logs in, whatever the client sends', async () => {
        const url = `https://127.0.0.1:${keepd.ports.management ?? 0}/info`;
        assert.equal((await request(url, { headers: { authorization: basic('admin', 'colon-pw') } })).status, 200);
        assert.equal((await request(url, { headers: { authorization: basic('svc:backup', 'colon-pw') } })).status, 401);
        assert.equal((await request(url, { headers: { authorization: basic('tab\tuser', 'colon-pw') } })).status, 401);
      });

      it('keepd check warns about each', async () => {
        const run = await runCli(['check', '--config-dir', dir]);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /warning: account "svc:\*\*\*" of identity\.managementAPI can never log in to the management listener/);
        assert.match(run.stderr, /warning: account "tab\\tuser" of identity\.managementAPI can never log in/);
      });
    });
  });
});

describe('what a pasted credential never shows', () => {
  it('an account named user:password shows as user:*** in warnings, check, --sources and problems', async () => {
    const pasted = 'PastedPassw0rdZZZ';
    const dir = await tempDir({
      'ports.json': TEST_BASE,
      'tls.json': TLS_CONFIGS.pem,
      'users.json': { identity: { managementAPI: { [`root:${pasted}`]: { active: true, secret: await createSecret('a-private-password-1') } } } },
    });
    const check = await runCli(['check', '--config-dir', dir]);
    const sources = await runCli(['check', '--sources', '--config-dir', dir]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, /"root:\*\*\*" of identity\.managementAPI/);
    assert.match(sources.stdout, /"identity\.managementAPI\[\\"root:\*\*\*\\"\]\.active": \{\n\s+"value": true,\n\s+"source": "users\.json"/);
    for (const output of [check.stdout, check.stderr, sources.stdout, sources.stderr]) assert.ok(!output.includes(pasted), output);

    await writeFileIn(dir, 'users.json', { identity: { managementAPI: { [`root:${pasted}`]: { active: 'yes', secret: 'not a secret' } } } });
    const refused = await runCli(['check', '--config-dir', dir]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /identity\.managementAPI\["root:\*\*\*"\]\.active/);
    assert.ok(!refused.stderr.includes(pasted), refused.stderr);
  });

  it('a credential or a string pasted into the wrong key is described, never echoed', async () => {
    const dir = await tempDir({
      'ports.json': TEST_BASE,
      'zz.json': { PORT: 'Basic QmFzaWNQYXNzdzByZEM0', LOG_LEVEL: 'password=LogLevelPassw0rdC3', watch: 'ldap://u:WatchPassw0rdC2@h', identity: { metricsAPI: { m: { active: 'ActivePassw0rdC1', secret: 'x' } } } },
    });
    const run = await runCli(['check', '--config-dir', dir]);
    assert.equal(run.code, 2);
    for (const secret of ['QmFzaWNQYXNzdzByZEM0', 'LogLevelPassw0rdC3', 'WatchPassw0rdC2', 'ActivePassw0rdC1']) assert.ok(!run.stderr.includes(secret), run.stderr);
    assert.match(run.stderr, /PORT: expected .* found a string of 26 character\(s\) that looks like a credential \(not shown\)/);
  });
});

async function writeFileIn(dir: string, name: string, content: object): Promise<void> {
  await writeFile(path.join(dir, name), JSON.stringify(content));
}
