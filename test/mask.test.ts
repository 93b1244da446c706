import assert from 'node:assert/strict';
import { saltPlatformPassword } from '../src/accounts/platform-secret.js';
import { after, before, describe, it } from 'node:test';
import { assembleConfig } from '../src/config/assemble.js';
import type { Json, JsonObject } from '../src/config/json.js';
import { isSecretKeyName, isSecretName, isSecretPath, MASK, maskConfig, maskCredentialsIn } from '../src/config/mask.js';
import { listSources } from '../src/config/provenance.js';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { PUBLISHED } from './helpers/published.js';
import { runCli } from './helpers/run-cli.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n';
const OTHER_SECRET = `${'AB'.repeat(32)}:${'CD'.repeat(64)}`;
const BASIC_TOKEN = Buffer.from('svc-user:basic-pw-5', 'utf8').toString('base64');
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZWVwZCJ9.c2lnbmF0dXJlLW9mLWp3dC0xMg';

/** Every secret string planted in the test configuration below. */
const SECRETS = [
  PUBLISHED.password,
  PUBLISHED.metrics,
  OTHER_SECRET,
  'P@$$w0rd1352',
  'env-tls-password',
  'platform-health-password',
  'ldap-bind-pass',
  'oauth-client-secret',
  'api-key-123456',
  PEM_KEY,
  'nested-token-value',
  // defect 1: names the old key regex missed, and values that are credentials whatever their key
  'pwd-value-1',
  'bindpw-value-2',
  'bearer-token-3',
  'header-token-4',
  BASIC_TOKEN,
  'basic-pw-5',
  'url-pw-6',
  'query-pw-7',
  'cookie-value-8',
  'proxy-pw-9',
  'digest-response-10',
  'conn-string-pw-11',
  JWT,
  'ghp_tokenAsUserName13',
  '918273645',
];

/** product.json of the end-to-end tests: a secret under every kind of name and value. */
const HOSTILE_PRODUCT = {
  shutdownkey: PUBLISHED.password,
  ldap: { bindPassword: 'ldap-bind-pass', host: 'ldap.example.com', url: 'ldaps://cn=admin:url-pw-6@ldap.example.com:636/dc=example', port: 636, useTls: true },
  oauth: { clientSecret: 'oauth-client-secret', issuer: 'https://login.example.com/' },
  apiKey: 'api-key-123456',
  inline: { cert: PEM_KEY },
  credentials: { nested: { deeper: 'nested-token-value' } },
  database: { pwd: 'pwd-value-1', user: 'keep', jdbc: 'jdbc:postgresql://db:5432/keep?user=keep&password=query-pw-7', odbc: 'Server=db;Uid=keep;Pwd=conn-string-pw-11;' },
  directory: { bindDn: 'cn=admin', bindPw: 'bindpw-value-2' },
  upstream: {
    headers: { Authorization: 'Bearer bearer-token-3', Accept: 'application/json' },
    extraHeaders: ['Authorization: Bearer header-token-4', 'X-Trace: on'],
    auth: `Basic ${BASIC_TOKEN}`,
    fallback: 'Digest username="keep", realm="x", nonce="abc", response="digest-response-10"',
    session: { cookie: 'session=cookie-value-8' },
    proxy: 'http://proxyuser:proxy-pw-9@proxy.example.com:3128',
    git: 'https://ghp_tokenAsUserName13@github.com/org/repo.git',
    idToken: JWT,
    note: `signed as ${JWT}`,
  },
  smtp: { password: 918273645, retries: 3 },
  passwordVerification: { concurrency: 3, queueLimit: 77 },
};

describe('masking the effective configuration', () => {
  it('leaves none of the configured secrets in the masked output, with or without sources', async () => {
    const dir = await tempDir({
      'functionalUsers.json': {
        identity: {
          healthcheckAPI: { probe: { active: true, secret: PUBLISHED.metrics } },
          managementAPI: { 'Doctor Notes': { active: true, secret: PUBLISHED.password } },
          metricsAPI: { metrics: { active: false, secret: OTHER_SECRET } },
        },
      },
      'tls.json': { TLSFile: 'c:/domino/data/go.pfx', TLSPassword: 'P@$$w0rd1352', TLSType: 'pfx' },
      'product.json': HOSTILE_PRODUCT,
    });
    const result = await assembleConfig(dir, {
      TLSPassword: 'env-tls-password',
      HEALTHCHECK_USER: 'platform',
      HEALTHCHECK_PASSWORD: 'platform-health-password',
    }, saltPlatformPassword);
    assert.ok(result.ok, JSON.stringify(result));
    const masked = maskConfig(result.loaded.merged);
    const outputs = [JSON.stringify(masked), JSON.stringify(listSources(masked, result.loaded.sources))];
    for (const output of outputs) {
      for (const secret of SECRETS) assert.ok(!output.includes(secret), `leaked: ${secret.slice(0, 12)}…`);
      // also no half of a salted secret
      for (const secret of [PUBLISHED.password, PUBLISHED.metrics]) {
        for (const part of secret.split(':')) assert.ok(!output.includes(part));
      }
    }
    assert.equal(masked.TLSPassword, MASK);
    assert.equal(masked.shutdownkey, MASK);
    assert.equal(masked.TLSFile, 'c:/domino/data/go.pfx', 'paths are not secrets');
    const ldap = masked.ldap as JsonObject;
    assert.equal(ldap.host, 'ldap.example.com', 'non-secret neighbours stay readable');
    assert.equal(ldap.url, 'ldaps://cn=admin:***@ldap.example.com:636/dc=example', 'only the password of a URL is masked');
    assert.equal(ldap.port, 636);
    assert.equal(ldap.useTls, true);
    const upstream = masked.upstream as JsonObject;
    assert.deepEqual(upstream.headers, { Authorization: MASK, Accept: 'application/json' });
    assert.deepEqual(upstream.extraHeaders, ['Authorization: Bearer ***', 'X-Trace: on']);
    assert.equal(upstream.proxy, 'http://proxyuser:***@proxy.example.com:3128');
    assert.equal(upstream.git, 'https://***@github.com/org/repo.git');
    assert.equal(upstream.note, 'signed as ***');
    assert.equal((masked.database as JsonObject).jdbc, 'jdbc:postgresql://db:5432/keep?user=keep&password=***');
    assert.equal((masked.database as JsonObject).odbc, 'Server=db;Uid=keep;Pwd=***;');
    assert.equal((masked.database as JsonObject).user, 'keep');
    assert.deepEqual(masked.smtp, { password: MASK, retries: 3 });
    assert.deepEqual(masked.passwordVerification, { concurrency: 3, queueLimit: 77 }, 'settings of a password feature are not secrets');
    const health = (masked.identity as JsonObject).healthcheckAPI as JsonObject;
    assert.deepEqual(health.probe, { active: true, secret: MASK });
    assert.deepEqual(health.platform, { active: true, secret: MASK });
  });

  it('does not modify the configuration it masks', () => {
    const config: JsonObject = { TLSPassword: 'x', a: { password: 'y' }, u: 'http://a:b@c' };
    maskConfig(config);
    assert.deepEqual(config, { TLSPassword: 'x', a: { password: 'y' }, u: 'http://a:b@c' });
  });

  describe('by key name', () => {
    // [key, secret name (its own value is a secret, whatever its type), secret-related (strings beneath are masked)]
    const table: [string, boolean, boolean][] = [
      ['TLSPassword', true, true],
      ['password', true, true],
      ['HEALTHCHECK_PASSWORD', true, true],
      ['pwd', true, true],
      ['Pwd', true, true],
      ['bindPw', true, true],
      ['bindpw', true, true],
      ['keystorePass', true, true],
      ['passphrase', true, true],
      ['clientSecret', true, true],
      ['secrets', true, true],
      ['accessToken', true, true],
      ['credentials', true, true],
      ['apiKey', true, true],
      ['x-api-key', true, true],
      ['API_KEY', true, true],
      ['shutdownkey', true, true],
      ['privateKey', true, true],
      ['auth', true, true],
      ['Authorization', true, true],
      ['proxy-authorization', true, true],
      ['cookie', true, true],
      ['Set-Cookie', true, true],
      ['password2', true, true],
      // settings of password features: strings beneath stay masked, numbers and booleans do not
      ['passwordVerification', false, true],
      ['passwordPolicy', false, true],
      ['tokenSettings', false, true],
      ['credentialsFile', false, true],
      ['keyFile', false, true],
      ['private', false, true],
      // credentials whose last word is not the credential noun: strings beneath are masked
      ['pwdHash', false, true],
      ['encryptionKeyValue', false, true],
      ['masterKeyBase64', false, true],
      ['signingKeyPEM', false, true],
      ['authHeader', false, true],
      ['authString', false, true],
      // not secrets at all
      ['proxyBypass', false, true],
      ['concurrency', false, false],
      ['authType', false, false],
      ['oauth', false, false],
      ['author', false, false],
      ['TLSFile', false, false],
      ['PEMCert', false, false],
      ['HOST', false, false],
      ['keepAliveTimeoutMs', false, false],
    ];
    for (const [key, name, related] of table) {
      it(`${key}: ${name ? 'secret name' : related ? 'secret-related' : 'plain'}`, () => {
        assert.equal(isSecretName(key), name, 'isSecretName');
        assert.equal(isSecretKeyName(key), related, 'isSecretKeyName');
      });
    }
  });

  describe('by value', () => {
    const table: [string, string][] = [
      // credentials as a whole value: the scheme stays readable
      ['Bearer abc.def-123', 'Bearer ***'],
      [`Basic ${BASIC_TOKEN}`, 'Basic ***'],
      ['bearer x', 'bearer ***'],
      ['Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1MIIGcaADAgEFoQMCAQ6i', 'Negotiate ***'],
      ['Digest username="u", realm="r", response="6629fae49393a05397450978507c4ef1"', 'Digest ***'],
      ['Authorization: Basic dTpw', 'Authorization: Basic ***'],
      ['-H "Authorization: Bearer abc" https://x', '-H "Authorization: Bearer ***" https://x'],
      ['Cookie: a=1; b=2', 'Cookie: ***'],
      // URLs: only the password of the userinfo; without a password the userinfo may be a token
      ['ldap://admin:s3cret@ldap.example.com:389/dc=x', 'ldap://admin:***@ldap.example.com:389/dc=x'],
      ['mongodb://app:p@ss:w0rd@db1,db2/app', 'mongodb://app:***@db1,db2/app'],
      ['ldap://admin:ab/cd+ef@host/dc=x', 'ldap://admin:***@host/dc=x'],
      ['https://ghp_abc123@github.com/o/r.git', 'https://***@github.com/o/r.git'],
      ['http://u:p@a and https://v:q@b', 'http://u:***@a and https://v:***@b'],
      ['http://a,http://u:p@b', 'http://a,http://u:***@b'],
      ['https://medium.com/@someone', 'https://medium.com/@someone'],
      ['http://host:8080/path/@x', 'http://host:8080/path/@x'],
      ['http://[::1]:8080/a@b', 'http://[::1]:8080/a@b'],
      ['https://login.example.com/', 'https://login.example.com/'],
      // named values inside a string
      ['jdbc:mysql://db/keep?user=keep&password=pw1&ssl=true', 'jdbc:mysql://db/keep?user=keep&password=***&ssl=true'],
      ['Server=db;User Id=sa;Password=pw2;', 'Server=db;User Id=sa;Password=***;'],
      ['--bind-pw=pw3 --verbose', '--bind-pw=*** --verbose'],
      ['{"password":"pw4","user":"u"}', '{"password":"***","user":"u"}'],
      ['a:password=pw5', 'a:password=***'],
      ['password="unterminated pw6', 'password="***"'],
      ['key: ***, token=***', 'key: ***, token=***'],
      ['https://token:abc@host', 'https://token:***@host'],
      // salted secrets, PEM blocks, JWTs
      [OTHER_SECRET, MASK],
      [`secret is ${OTHER_SECRET.toLowerCase()}`, MASK],
      [PEM_KEY, MASK],
      [JWT, MASK],
      // not credentials
      ['Basic authentication on four listeners', 'Basic authentication on four listeners'],
      ['basic', 'basic'],
      ['CN=John Doe/O=Mauraders', 'CN=John Doe/O=Mauraders'],
      ['c:/domino/data/go.pfx', 'c:/domino/data/go.pfx'],
      ['E4B321EBA91B7F92D9BF5EAFA5322824FEC2287B8A6C133D7C31EFB706A2BA30', 'E4B321EBA91B7F92D9BF5EAFA5322824FEC2287B8A6C133D7C31EFB706A2BA30'],
      ['passwordVerification: 4', 'passwordVerification: 4'],
    ];
    for (const [value, expected] of table) {
      it(JSON.stringify(value).slice(0, 70), () => assert.equal(maskCredentialsIn(value), expected));
    }

    it('takes linear time on hostile strings of 1 MB (no regular expression backtracks quadratically)', () => {
      const size = 1_000_000;
      const hostile = ['a.'.repeat(size / 2), 'eyJ-'.repeat(size / 4), 'http://' + 'a'.repeat(size), 'Cookie: ***'.repeat(size / 11), 'password="'.repeat(size / 10), 'ldap://a:b/'.repeat(size / 11), 'x://a:1/' + '@'.repeat(size), 'Basic '.repeat(size / 6)];
      for (const text of hostile) {
        const started = performance.now();
        maskCredentialsIn(text);
        maskConfig({ [text.slice(0, 200_000)]: text });
        // Linear is tens of milliseconds; quadratic backtracking on 1 MB is hours. The bound is loose
        // so that a loaded CI machine (2 cores, other suites running) never trips it.
        assert.ok(performance.now() - started < 20_000, `${JSON.stringify(text.slice(0, 12))}… took ${Math.round(performance.now() - started)} ms`);
      }
    });
  });

  describe('by type and place', () => {
    const cases: [string, JsonObject, Json][] = [
      ['numbers and booleans under a settings block named after passwords', { passwordVerification: { concurrency: 4, queueLimit: 200 } }, { passwordVerification: { concurrency: 4, queueLimit: 200 } }],
      ['a number under a secret name', { TLSPassword: 123456 }, { TLSPassword: MASK }],
      ['a boolean, a number and null under a secret-named block', { credentials: { pin: 1234, enabled: true, none: null } }, { credentials: { pin: MASK, enabled: MASK, none: MASK } }],
      ['strings under a secret-related block', { passwordPolicy: { hint: 'hunter2', minLength: 8 } }, { passwordPolicy: { hint: MASK, minLength: 8 } }],
      ['an array under a secret name', { tokens: ['a', 1, true] }, { tokens: [MASK, MASK, MASK] }],
      ['active and CN of an account named like a secret', { identity: { managementAPI: { token: { active: true, CN: 'CN=T/O=O', secret: OTHER_SECRET } } } }, { identity: { managementAPI: { token: { active: true, CN: 'CN=T/O=O', secret: MASK } } } }],
      ['anything else under identity', { identity: { managementAPI: { admin: 'hunter2', other: { active: true, secret: OTHER_SECRET, notes: 'x', level: 3 } } } }, { identity: { managementAPI: { admin: MASK, other: { active: true, secret: MASK, notes: MASK, level: MASK } } } }],
      ['a key named __proto__ stays data', JSON.parse('{"__proto__": {"password": "x", "n": 1}}') as JsonObject, JSON.parse('{"__proto__": {"password": "***", "n": 1}}') as JsonObject],
    ];
    for (const [title, input, expected] of cases) {
      it(title, () => {
        const masked = maskConfig(input);
        assert.deepEqual(JSON.parse(JSON.stringify(masked)), JSON.parse(JSON.stringify(expected)));
      });
    }

    it('isSecretPath (validation messages) hides values under secret and secret-related names, and under identity', () => {
      assert.equal(isSecretPath(['ldap', 'bindPw']), true);
      assert.equal(isSecretPath(['upstream', 'Authorization']), true);
      assert.equal(isSecretPath(['passwordVerification', 'concurrency']), true, 'conservative: a value typed there may be a password');
      assert.equal(isSecretPath(['identity', 'managementAPI', 'admin']), true);
      assert.equal(isSecretPath(['identity', 'managementAPI', 'admin', 'active']), false);
      assert.equal(isSecretPath(['limits', 'maxBodyBytes']), false);
    });
  });

  describe('GET /config and keepd check, end to end', () => {
    let keepd: KeepdProcess;
    let dir: string;

    before(async () => {
      dir = await tempDir({
        'functionalUsers.json': await functionalUsers(),
        'ports.json': TEST_BASE,
        'tls.json': { ...TLS_CONFIGS.pfx },
        'product.json': HOSTILE_PRODUCT,
      });
      keepd = await startKeepd(dir);
    });
    after(() => keepd.stop());

    const assertNoSecret = (output: string): void => {
      for (const secret of [...SECRETS, 'changeit']) assert.ok(!output.includes(secret), `leaked: ${secret.slice(0, 12)}…`);
    };

    it('GET /config and GET /config?sources show none of the planted secrets, and the settings in clear', async () => {
      for (const route of ['/config', '/config?sources']) {
        const response = await request(`https://127.0.0.1:${keepd.ports.management ?? 0}${route}`, { auth: [...USERS.management] });
        assert.equal(response.status, 200);
        assertNoSecret(response.body);
      }
      const config = (await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/config`, { auth: [...USERS.management] })).json() as JsonObject;
      assert.deepEqual(config.passwordVerification, { concurrency: 3, queueLimit: 77 });
      assert.equal((config.ldap as JsonObject).url, 'ldaps://cn=admin:***@ldap.example.com:636/dc=example');
    });

    it('keepd check and keepd check --sources show none of them either', async () => {
      for (const args of [['check'], ['check', '--sources']]) {
        const run = await runCli([...args, '--config-dir', dir]);
        assert.equal(run.code, 0, run.stderr);
        assertNoSecret(run.stdout);
        assertNoSecret(run.stderr);
      }
      const config = JSON.parse((await runCli(['check', '--config-dir', dir])).stdout) as JsonObject;
      assert.deepEqual(config.passwordVerification, { concurrency: 3, queueLimit: 77 });
    });
  });
});
