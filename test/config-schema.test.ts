import assert from 'node:assert/strict';
import { saltPlatformPassword } from '../src/accounts/platform-secret.js';
import { describe, it } from 'node:test';
import { assembleConfig } from '../src/config/assemble.js';
import { formatProblem } from '../src/config/problems.js';
import { PUBLISHED } from './helpers/published.js';
import { tempDir } from './helpers/temp-dir.js';

async function problemsFor(files: Record<string, string | object>, env: Record<string, string> = {}): Promise<string[]> {
  const result = await assembleConfig(await tempDir(files), env, saltPlatformPassword);
  if (result.ok) assert.fail('the load should fail');
  return result.problems.map(formatProblem);
}

async function loadedFor(files: Record<string, string | object>, env: Record<string, string> = {}) {
  const result = await assembleConfig(await tempDir(files), env, saltPlatformPassword);
  if (!result.ok) assert.fail(result.problems.map(formatProblem).join('\n'));
  return result.loaded;
}

const account = (extra: object = {}) => ({ active: true, secret: PUBLISHED.password, ...extra });

describe('validating the keys keepd uses', () => {
  it('keeps unknown product keys untouched', async () => {
    const { merged } = await loadedFor({ 'x.json': { verticles: { a: { active: true } }, AllowJwtMail: false, jwt: [1, 2] } });
    assert.deepEqual(merged.verticles, { a: { active: true } });
    assert.equal(merged.AllowJwtMail, false);
  });

  it('refuses ports that are not integers 0..65535, naming file, key, expectation and value', async () => {
    const problems = await problemsFor({
      'ports.json': { PORT: '8880', HEALTHCHECKPORT: 65536, MANAGMENTPORT: -1, METRICSPORT: 8890.5 },
    });
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.ok(problems.includes('ports.json: PORT: expected an integer from 0 to 65535 (0 picks a free port), found the string "8880"'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('ports.json: HEALTHCHECKPORT: expected an integer') && p.endsWith('found number 65536')));
    assert.ok(problems.some((p) => p.startsWith('ports.json: MANAGMENTPORT:') && p.endsWith('found number -1')));
    assert.ok(problems.some((p) => p.startsWith('ports.json: METRICSPORT:') && p.endsWith('found number 8890.5')));
  });

  it('accepts port 0 and the boundaries', async () => {
    const { config } = await loadedFor({ 'p.json': { PORT: 0, HEALTHCHECKPORT: 65535 } });
    assert.equal(config.PORT, 0);
    assert.equal(config.HEALTHCHECKPORT, 65535);
  });

  it('refuses null for a known key', async () => {
    assert.match((await problemsFor({ 'n.json': { PORT: null } }))[0] ?? '', /^n\.json: PORT: expected an integer .*found null$/);
  });

  it('checks the TLS keys together', async () => {
    assert.match((await problemsFor({ 't.json': { TLSType: 'PKCS12', TLSFile: 'x' } }))[0] ?? '', /t\.json: TLSType: expected one of "pfx", "jks", "pem", found the string "PKCS12"/);
    assert.match((await problemsFor({ 't.json': { TLSType: 'pem', TLSFile: 'key.pem' } }))[0] ?? '', /^t\.json: PEMCert: is required when TLSType is "pem"/);
    assert.match((await problemsFor({ 't.json': { TLSFile: 'x.pfx' } }))[0] ?? '', /^t\.json: TLSType: is required when TLSFile is set/);
    assert.match((await problemsFor({ 't.json': { TLSType: 'pfx' } }))[0] ?? '', /^t\.json: TLSFile: is required when TLSType is set/);
    const { config } = await loadedFor({ 't.json': { TLSFile: 'c:/domino/data/go.pfx', TLSPassword: '', TLSType: 'pfx' } });
    assert.equal(config.TLSPassword, '');
  });

  it('checks every account: boolean active, string CN, well-formed secret', async () => {
    const problems = await problemsFor({
      'functionalUsers.json': {
        identity: {
          managementAPI: {
            noActive: { secret: PUBLISHED.password },
            stringActive: account({ active: 'true' }),
            badCN: account({ CN: 42 }),
            badSecret: { active: true, secret: `${PUBLISHED.password.slice(0, -1)}Z` },
            noSecret: { active: true },
            notAnObject: 'x',
          },
        },
      },
    });
    const text = problems.join('\n');
    assert.equal(problems.length, 6, text);
    assert.match(text, /functionalUsers\.json: identity\.managementAPI\.noActive\.active: expected true or false, found nothing \(the key is missing\)/);
    assert.match(text, /identity\.managementAPI\.stringActive\.active: expected true or false, found the string "true"/);
    assert.match(text, /identity\.managementAPI\.badCN\.CN: expected a string/);
    assert.match(text, /identity\.managementAPI\.badSecret\.secret: expected a salted secret HASH:SALT .*found a string of 193 character\(s\) \(not shown: secret\)/);
    assert.match(text, /identity\.managementAPI\.noSecret\.secret: expected a salted secret/);
    assert.match(text, /identity\.managementAPI\.notAnObject: expected an account object/);
    assert.ok(!text.includes(PUBLISHED.password.slice(0, 40)), 'a malformed secret must not be echoed');
  });

  it('quotes account names that are not plain identifiers', async () => {
    const problems = await problemsFor({ 'u.json': { identity: { metricsAPI: { 'Doctor Notes': { active: 1, secret: PUBLISHED.metrics } } } } });
    assert.match(problems[0] ?? '', /^u\.json: identity\.metricsAPI\["Doctor Notes"\]\.active: expected true or false, found number 1$/);
  });

  it('requires identity sections to be objects of accounts', async () => {
    const text = (await problemsFor({ 'i.json': { identity: { healthcheckAPI: [], metricsAPI: null } } })).join('\n');
    assert.match(text, /i\.json: identity\.healthcheckAPI: expected an object of accounts.*found an array/);
    assert.match(text, /i\.json: identity\.metricsAPI: expected an object of accounts.*found null/);
    assert.match((await problemsFor({ 'i.json': { identity: 'none' } }))[0] ?? '', /i\.json: identity: expected an object with the sections/);
  });

  it('refuses a malformed shutdownkey without showing it', async () => {
    // A plain passphrase is accepted (shutdown-key.test.ts); a damaged salted secret is not.
    const problems = await problemsFor({ 'k.json': { shutdownkey: 'ABCDEF:0123456789' } });
    assert.match(problems[0] ?? '', /^k\.json: shutdownkey: expected a salted secret .*found a string of 17 character\(s\) \(not shown: secret\)$/);
  });

  it('checks listener blocks: TLS keys complete per block, booleans, addresses', async () => {
    const text = (
      await problemsFor({
        'l.json': {
          listeners: {
            management: { HOST: '', TLSType: 'pem', TLSFile: 'k.pem' },
            metrics: { enabled: 'no' },
            health: { TLSPassword: 'x' },
          },
        },
      })
    ).join('\n');
    assert.match(text, /l\.json: listeners\.management\.HOST: expected an address to bind/);
    assert.match(text, /l\.json: listeners\.management\.PEMCert: is required when TLSType is "pem"/);
    assert.match(text, /l\.json: listeners\.metrics\.enabled: expected true or false, found the string "no"/);
    assert.match(text, /listeners\.health\.TLSFile: is required: a listener block with TLS keys defines that listener's TLS completely/);
  });

  it('refuses two enabled listeners on the same fixed port', async () => {
    assert.match((await problemsFor({ 'p.json': { PORT: 9000, METRICSPORT: 9000 } }))[0] ?? '', /^p\.json: METRICSPORT: uses port 9000, like PORT; each listener needs a port of its own$/);
    await loadedFor({ 'p.json': { PORT: 9000, METRICSPORT: 9000, metrics: { enabled: false } } });
    await loadedFor({ 'p.json': { PORT: 0, METRICSPORT: 0, HEALTHCHECKPORT: 0 } });
  });

  it('bounds drainTimeoutSeconds and types the metrics switches', async () => {
    const text = (await problemsFor({ 'd.json': { drainTimeoutSeconds: 301, metrics: { enabled: 1 }, jvmMetricsEnabled: 'yes' } })).join('\n');
    assert.match(text, /d\.json: drainTimeoutSeconds: expected a number of seconds from 0 to 300, found number 301/);
    assert.match(text, /d\.json: metrics\.enabled: expected true or false/);
    assert.match(text, /d\.json: metrics\.jvmMetricsEnabled: expected true or false/);
  });

  it('validates LOG_LEVEL', async () => {
    assert.match((await problemsFor({}, { LOG_LEVEL: 'verbose' }))[0] ?? '', /^env:LOG_LEVEL: LOG_LEVEL: expected one of "fatal", .*found the string "verbose"/);
  });
});

describe('environment overrides', () => {
  it('apply last, with their variable as source', async () => {
    const { config, sources } = await loadedFor(
      { 'a.json': { PORT: 1, HOST: '0.0.0.0', TLSType: 'pfx', TLSFile: 'a.pfx' } },
      { PORT: '8564', HEALTHCHECKPORT: '1', MANAGMENTPORT: '2', METRICSPORT: '3', HOST: '127.0.0.1', TLSFile: 'b.pem', TLSPassword: 'pw', TLSType: 'pem', PEMCert: 'chain.pem', LOG_LEVEL: 'debug' },
    );
    assert.deepEqual(
      [config.PORT, config.HEALTHCHECKPORT, config.MANAGMENTPORT, config.METRICSPORT, config.HOST, config.TLSFile, config.TLSPassword, config.TLSType, config.PEMCert, config.LOG_LEVEL],
      [8564, 1, 2, 3, '127.0.0.1', 'b.pem', 'pw', 'pem', 'chain.pem', 'debug'],
    );
    assert.equal(sources.PORT, 'env:PORT');
    assert.equal(sources.TLSType, 'env:TLSType');
  });

  it('name the variable of a bad port', async () => {
    const problems = await problemsFor({}, { PORT: 'eighty', METRICSPORT: '99999', HEALTHCHECKPORT: '' });
    const text = problems.join('\n');
    assert.equal(problems.length, 3, text);
    assert.match(text, /^env:PORT: PORT: expected an integer from 0 to 65535.*found the string "eighty"$/m);
    assert.match(text, /^env:METRICSPORT: METRICSPORT: expected .*found number 99999$/m);
    assert.match(text, /^env:HEALTHCHECKPORT: HEALTHCHECKPORT: expected .*found the string ""$/m);
  });

  it('take MANAGEMENTPORT and ADMINPORT as aliases, in files and in the environment', async () => {
    const fromFile = await loadedFor({ 'old.json': { ADMINPORT: 9001 } });
    assert.equal(fromFile.config.MANAGMENTPORT, 9001);
    assert.equal(fromFile.sources.MANAGMENTPORT, 'old.json (as ADMINPORT)');
    assert.equal(fromFile.merged.ADMINPORT, undefined);

    const laterFileWins = await loadedFor({ 'a.json': { MANAGEMENTPORT: 9001 }, 'b.json': { MANAGMENTPORT: 9002 } });
    assert.equal(laterFileWins.config.MANAGMENTPORT, 9002);

    const fromEnv = await loadedFor({ 'a.json': { MANAGMENTPORT: 9001 } }, { MANAGEMENTPORT: '9003' });
    assert.equal(fromEnv.config.MANAGMENTPORT, 9003);
    assert.equal(fromEnv.sources.MANAGMENTPORT, 'env:MANAGEMENTPORT');
  });

  it('refuse two spellings of the management port with different values in one place', async () => {
    const problems = await problemsFor({ 'a.json': { MANAGMENTPORT: 9001, ADMINPORT: 9002 } });
    assert.match(problems[0] ?? '', /^a\.json: ADMINPORT: conflicts with MANAGMENTPORT/);
    const same = await loadedFor({ 'a.json': { MANAGMENTPORT: 9001, ADMINPORT: 9001 } });
    assert.equal(same.config.MANAGMENTPORT, 9001);
  });

  it('resolve metrics.jvmMetricsEnabled, its top-level alias jvmMetricsEnabled and processMetricsEnabled (table)', async () => {
    type Files = Record<string, object>;
    const table: { name: string; files: Files; jvm: boolean; process: boolean | undefined; source?: string }[] = [
      { name: 'default', files: {}, jvm: true, process: undefined, source: 'default' },
      { name: "the product's key", files: { 'm.json': { metrics: { jvmMetricsEnabled: false } } }, jvm: false, process: undefined, source: 'm.json' },
      { name: 'the alias alone', files: { 'm.json': { jvmMetricsEnabled: false } }, jvm: false, process: undefined, source: 'm.json (as jvmMetricsEnabled)' },
      { name: 'the alias beside metrics.enabled', files: { 'm.json': { jvmMetricsEnabled: false, metrics: { enabled: true } } }, jvm: false, process: undefined, source: 'm.json' },
      { name: 'both spellings, same value', files: { 'm.json': { jvmMetricsEnabled: false, metrics: { jvmMetricsEnabled: false } } }, jvm: false, process: undefined },
      { name: 'a later file with the alias wins', files: { 'a.json': { metrics: { jvmMetricsEnabled: false } }, 'b.json': { jvmMetricsEnabled: true } }, jvm: true, process: undefined, source: 'b.json (as jvmMetricsEnabled)' },
      { name: "a later file with the product's key wins", files: { 'a.json': { jvmMetricsEnabled: false }, 'b.json': { metrics: { jvmMetricsEnabled: true } } }, jvm: true, process: undefined, source: 'b.json' },
      { name: 'processMetricsEnabled is kept beside it', files: { 'm.json': { metrics: { jvmMetricsEnabled: false }, processMetricsEnabled: true } }, jvm: false, process: true },
    ];
    for (const row of table) {
      const loaded = await loadedFor(row.files);
      assert.equal(loaded.config.metrics.jvmMetricsEnabled, row.jvm, row.name);
      assert.equal(loaded.config.processMetricsEnabled, row.process, row.name);
      assert.equal(loaded.merged.jvmMetricsEnabled, undefined, `${row.name}: the alias is not left at the top level`);
      assert.equal(loaded.config.metrics.enabled, true, row.name);
      if (row.source !== undefined) {
        const metricsSources = loaded.sources.metrics;
        assert.ok(typeof metricsSources === 'object', row.name);
        assert.equal(metricsSources.jvmMetricsEnabled, row.source, row.name);
      }
    }
  });

  it('refuse both spellings of the process-metrics switch with different values in one file', async () => {
    const problems = await problemsFor({ 'a.json': { jvmMetricsEnabled: true, metrics: { jvmMetricsEnabled: false } } });
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', /^a\.json: jvmMetricsEnabled: conflicts with metrics\.jvmMetricsEnabled in the same place/);
    const wrongType = (await problemsFor({ 'a.json': { jvmMetricsEnabled: 'no' } })).join('\n');
    assert.match(wrongType, /a\.json \(as jvmMetricsEnabled\): metrics\.jvmMetricsEnabled: expected true or false/);
  });

  it('HEALTHCHECK_USER and HEALTHCHECK_PASSWORD add one salted health account', async () => {
    const { config, sources, merged } = await loadedFor(
      { 'f.json': { identity: { healthcheckAPI: { probe: account() } } } },
      { HEALTHCHECK_USER: 'k8s probe', HEALTHCHECK_PASSWORD: 'from-a-secret' },
    );
    assert.deepEqual(Object.keys(config.identity.healthcheckAPI).sort(), ['k8s probe', 'probe']);
    const added = config.identity.healthcheckAPI['k8s probe'];
    assert.ok(added);
    assert.equal(added.active, true);
    assert.ok(!JSON.stringify(merged).includes('from-a-secret'));
    const { parseSecret, verifyPassword } = await import('../src/accounts/secret.js');
    const parsed = parseSecret(added.secret);
    assert.ok(parsed);
    assert.equal(await verifyPassword(parsed, 'from-a-secret'), true);
    assert.deepEqual((sources.identity as Record<string, Record<string, unknown>>).healthcheckAPI?.['k8s probe'], { active: 'env:HEALTHCHECK_USER', secret: 'env:HEALTHCHECK_USER' });
  });

  it('refuse only one of HEALTHCHECK_USER and HEALTHCHECK_PASSWORD', async () => {
    assert.match((await problemsFor({}, { HEALTHCHECK_USER: 'probe' }))[0] ?? '', /^env:HEALTHCHECK_USER: HEALTHCHECK_USER is set but HEALTHCHECK_PASSWORD is not/);
    assert.match((await problemsFor({}, { HEALTHCHECK_PASSWORD: 'x' }))[0] ?? '', /^env:HEALTHCHECK_PASSWORD: HEALTHCHECK_PASSWORD is set but HEALTHCHECK_USER is not/);
    assert.match((await problemsFor({}, { HEALTHCHECK_USER: 'probe', HEALTHCHECK_PASSWORD: '' }))[0] ?? '', /HEALTHCHECK_PASSWORD is empty/);
  });
});

describe('problems never echo a secret in the wrong place', () => {
  it('a plain password pasted as an account, or as a realm, is described by its shape only', async () => {
    const result = await assembleConfig(await tempDir({ 'u.json': { identity: { managementAPI: { admin: 'MyPlainPassw0rd!' }, metricsAPI: 'An0therPassword' } } }), {}, saltPlatformPassword);
    if (result.ok) assert.fail('the load should fail');
    const text = result.problems.map(formatProblem).join('\n');
    assert.match(text, /identity\.managementAPI\.admin: expected an account object .*found a string of 16 character\(s\) \(not shown: secret\)/);
    assert.ok(!text.includes('MyPlainPassw0rd!') && !text.includes('An0therPassword'), text);
  });
});
