import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSecret } from '../src/accounts/secret.js';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { PUBLISHED } from './helpers/published.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const SHUTDOWN_KEY = 'stop-me-now';

describe('management listener', () => {
  let keepd: KeepdProcess;
  let dir: string;
  let users: object;
  const mgmt = (route: string): string => `https://127.0.0.1:${keepd.ports.management ?? 0}${route}`;
  const asAdmin = { auth: [...USERS.management] as [string, string] };

  before(async () => {
    users = await functionalUsers();
    dir = await tempDir({
      'functionalUsers.json': users,
      'ports.json': TEST_BASE,
      'tls.json': { ...TLS_CONFIGS.pfx },
      // Not watched: POST /restart alone applies the files the tests write (a watcher would race it).
      'product.json': { shutdownkey: await createSecret(SHUTDOWN_KEY), dance: 'tango', ldap: { bindPassword: 'ldap-secret-value' }, watch: { enabled: false } },
    });
    keepd = await startKeepd(dir);
  });
  after(() => keepd.stop());

  it('GET /config is the effective configuration with every secret masked', async () => {
    const response = await request(mgmt('/config'), asAdmin);
    assert.equal(response.status, 200);
    const config = response.json() as Record<string, unknown>;
    assert.equal(config.dance, 'tango');
    assert.equal(config.shutdownkey, '***');
    assert.equal(config.TLSPassword, '***');
    const secrets = ['changeit', 'ldap-secret-value', ...JSON.stringify(users).match(/[0-9A-F]{64}:[0-9A-F]{128}/g) ?? []];
    assert.ok(secrets.length >= 8);
    for (const secret of secrets) assert.ok(!response.body.includes(secret), `leaked ${secret.slice(0, 10)}`);
  });

  it('GET /config?sources says which file set each key', async () => {
    const response = await request(mgmt('/config?sources'), asAdmin);
    const sources = response.json() as Record<string, { value: unknown; source: string }>;
    assert.deepEqual(sources.dance, { value: 'tango', source: 'product.json' });
    assert.deepEqual(sources.TLSPassword, { value: '***', source: 'tls.json' });
    assert.deepEqual(sources.HEALTHCHECKPORT, { value: 0, source: 'ports.json' });
    assert.ok(!response.body.includes('changeit'));
  });

  it('GET /info reports version, process, config and listeners, and counts accounts without naming them', async () => {
    const info = (await request(mgmt('/info'), asAdmin)).json() as Record<string, unknown>;
    assert.equal(info.pid, keepd.child.pid);
    assert.equal(info.configDir, dir);
    assert.equal(info.generation, 1);
    assert.deepEqual(info.configFiles, ['functionalUsers.json', 'ports.json', 'product.json', 'tls.json']);
    assert.deepEqual(info.accounts, { healthcheckAPI: 2, managementAPI: 2, metricsAPI: 2, singleDbModeUsers: 2 });
    const listeners = info.listeners as Record<string, { scheme: string; port: number; address: string; certificate: { subject: string; notAfter: string; daysUntilExpiry: number } }>;
    for (const name of ['data', 'health', 'management', 'metrics']) {
      const listener = listeners[name];
      assert.ok(listener);
      assert.equal(listener.scheme, 'https');
      assert.equal(listener.address, '127.0.0.1');
      assert.equal(listener.port, keepd.ports[name as 'data']);
      assert.ok(listener.certificate.daysUntilExpiry > 300);
    }
    const text = JSON.stringify(info);
    for (const name of ['Doctor Notes', 'probe', 'prometheus', 'John Doe', 'retired']) assert.ok(!text.includes(name), name);
  });

  it('GET /routes lists every listener’s routes', async () => {
    const routes = (await request(mgmt('/routes'), asAdmin)).json() as Record<string, { method: string; url: string }[]>;
    assert.deepEqual(routes.health?.map((r) => `${r.method} ${r.url}`).sort(), ['GET /', 'GET /health', 'GET /health/live', 'GET /health/ready', 'HEAD /', 'HEAD /health', 'HEAD /health/live', 'HEAD /health/ready']);
    assert.ok(routes.management?.some((r) => r.method === 'POST' && r.url === '/shutdown'));
    assert.ok(routes.data?.some((r) => r.url === '/api/whoami'));
    assert.ok(routes.metrics?.some((r) => r.url === '/metrics'));
  });

  it('POST /encode salts a password; POST /decode checks a guess', async () => {
    const encoded = await request(mgmt('/encode'), { ...asAdmin, method: 'POST', body: { shutdownkey: 'Tr0ub4dor&3' } });
    assert.equal(encoded.status, 200);
    const { secret } = encoded.json() as { secret: string };
    assert.match(secret, /^[0-9A-F]{64}:[0-9A-F]{128}$/);
    const decode = async (guess: string) => (await request(mgmt('/decode'), { ...asAdmin, method: 'POST', body: { shutdownkey: secret, guess } })).json();
    assert.deepEqual(await decode('Tr0ub4dor&3'), { match: true });
    assert.deepEqual(await decode('Tr0ub4dor&'), { match: false });
    const published = await request(mgmt('/decode'), { ...asAdmin, method: 'POST', body: { shutdownkey: PUBLISHED.password, guess: 'password' } });
    assert.deepEqual(published.json(), { match: true });
  });

  it('POST /encode and /decode refuse bad bodies with 400', async () => {
    assert.equal((await request(mgmt('/encode'), { ...asAdmin, method: 'POST', body: {} })).status, 400);
    assert.equal((await request(mgmt('/encode'), { ...asAdmin, method: 'POST', body: { shutdownkey: '' } })).status, 400);
    const malformed = await request(mgmt('/decode'), { ...asAdmin, method: 'POST', body: { shutdownkey: 'nothex', guess: 'x' } });
    assert.equal(malformed.status, 400);
    assert.match((malformed.json() as { message: string }).message, /not a salted secret/);
  });

  it('POST /shutdown refuses a missing or wrong shutdownkey', async () => {
    assert.equal((await request(mgmt('/shutdown'), { ...asAdmin, method: 'POST', body: {} })).status, 403);
    assert.equal((await request(mgmt('/shutdown'), { ...asAdmin, method: 'POST', body: { shutdownkey: 'wrong' } })).status, 403);
    assert.equal((await request(mgmt('/info'), asAdmin)).status, 200, 'still running');
  });

  describe('POST /restart', () => {
    it('with an invalid configuration answers 422 with every problem and keeps serving as before', async () => {
      await writeFile(path.join(dir, 'zz-broken.json'), '{"PORT": "eighty",}');
      await writeFile(path.join(dir, 'zz-bad-port.json'), JSON.stringify({ METRICSPORT: -5 }));
      try {
        const response = await request(mgmt('/restart'), { ...asAdmin, method: 'POST' });
        assert.equal(response.status, 422);
        const outcome = response.json() as { status: string; generation: number; problems: string[] };
        assert.equal(outcome.status, 'rejected');
        assert.equal(outcome.generation, 1);
        assert.equal(outcome.problems.length, 2, outcome.problems.join('\n'));
        assert.match(outcome.problems.join('\n'), /zz-broken\.json:1:19: invalid JSON/);
        assert.match(outcome.problems.join('\n'), /zz-bad-port\.json: METRICSPORT: expected an integer/);
        assert.equal((await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] })).status, 200);
      } finally {
        const { rm } = await import('node:fs/promises');
        await rm(path.join(dir, 'zz-broken.json'));
        await rm(path.join(dir, 'zz-bad-port.json'));
      }
    });

    it('with a valid configuration applies it: a new account works, generation goes up', async () => {
      const password = 'restart-added-pw';
      await writeFile(path.join(dir, 'zz-new-admin.json'), JSON.stringify({ identity: { managementAPI: { 'new admin': { active: true, secret: await createSecret(password) } } } }));
      assert.equal((await request(mgmt('/info'), { auth: ['new admin', password] })).status, 401, 'not before the restart');
      const response = await request(mgmt('/restart'), { ...asAdmin, method: 'POST' });
      assert.equal(response.status, 200, response.body);
      const outcome = response.json() as { status: string; generation: number };
      assert.deepEqual([outcome.status, outcome.generation], ['applied', 2]);
      const info = await request(mgmt('/info'), { auth: ['new admin', password] });
      assert.equal(info.status, 200);
      assert.equal((info.json() as { generation: number }).generation, 2);
      const again = (await request(mgmt('/restart'), { ...asAdmin, method: 'POST' })).json();
      assert.deepEqual(again, { status: 'unchanged', generation: 2 });
    });
  });

  it('POST /shutdown with the right key answers 202 and stops keepd with exit code 0', async () => {
    const response = await request(mgmt('/shutdown'), { ...asAdmin, method: 'POST', body: { shutdownkey: SHUTDOWN_KEY } });
    assert.equal(response.status, 202);
    assert.deepEqual(response.json(), { status: 'stopping', drainTimeoutSeconds: 10 });
    assert.equal(await keepd.exited, 0);
  });
});

describe('POST /shutdown without a configured shutdownkey', () => {
  it('is allowed to any authenticated management account', async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem });
    const keepd = await startKeepd(dir);
    const url = `https://127.0.0.1:${keepd.ports.management ?? 0}/shutdown`;
    assert.equal((await request(url, { method: 'POST', auth: [...USERS.health] })).status, 401);
    assert.equal((await request(url, { method: 'POST', auth: [...USERS.management] })).status, 202);
    assert.equal(await keepd.exited, 0);
  });
});
