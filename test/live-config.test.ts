import assert from 'node:assert/strict';
import { copyFile, mkdir, open, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createSecret } from '../src/accounts/secret.js';
import { eventually } from './helpers/eventually.js';
import { freePort } from './helpers/free-port.js';
import { request } from './helpers/http-client.js';
import { startedWatching, startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, tlsFixture, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const health = (keepd: KeepdProcess): string => `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;

async function startWith(files: Record<string, string | object> = {}, env: Record<string, string> = {}): Promise<{ keepd: KeepdProcess; dir: string }> {
  const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem, ...files });
  return { keepd: await startKeepd(dir, { env }), dir };
}

async function healthAccount(name: string, password: string, active = true): Promise<string> {
  return JSON.stringify({ identity: { healthcheckAPI: { [name]: { active, secret: await createSecret(password) } } } });
}

const statusOf = async (keepd: KeepdProcess, auth: [string, string]): Promise<number> => (await request(health(keepd), { auth })).status;

async function expectStatus(keepd: KeepdProcess, auth: [string, string], status: number): Promise<void> {
  await eventually(async () => assert.equal(await statusOf(keepd, auth), status, `${auth[0]} should get ${status}`));
}

interface HealthBody {
  status: string;
  components: { config: { status: string; stale: boolean; generation: number; error?: { problems: string[] } } };
}
const healthBody = async (keepd: KeepdProcess): Promise<HealthBody> => (await request(health(keepd), { auth: [...USERS.health] })).json() as HealthBody;

describe('live configuration: accounts', () => {
  it('a new account logs in after an edit; a deleted or deactivated one is refused on its next request', async () => {
    const { keepd, dir } = await startWith();
    try {
      assert.ok(keepd.logs.some(startedWatching), 'watching before the listeners answer: no edit from now on is missed');
      await writeFile(path.join(dir, 'extra.json'), await healthAccount('added', 'added-pw'));
      await expectStatus(keepd, ['added', 'added-pw'], 200);
      assert.equal(await statusOf(keepd, ['added', 'added-pw']), 200, 'cached now');

      await writeFile(path.join(dir, 'extra.json'), await healthAccount('added', 'added-pw', false));
      await expectStatus(keepd, ['added', 'added-pw'], 401);

      await writeFile(path.join(dir, 'extra.json'), await healthAccount('added', 'added-pw'));
      await expectStatus(keepd, ['added', 'added-pw'], 200);
      await rm(path.join(dir, 'extra.json'));
      await expectStatus(keepd, ['added', 'added-pw'], 401);

      await writeFile(path.join(dir, 'extra.json'), await healthAccount('added', 'new-pw'));
      await expectStatus(keepd, ['added', 'new-pw'], 200);
      assert.equal(await statusOf(keepd, ['added', 'added-pw']), 401, 'the old password is not in any cache');
      assert.equal(await statusOf(keepd, [...USERS.health]), 200, 'others untouched');
    } finally {
      await keepd.stop();
    }
  });

  it('a broken edit keeps every old account working, shows in /health, /info and the metrics, and the next good edit clears it', async () => {
    const { keepd, dir } = await startWith();
    try {
      await writeFile(path.join(dir, 'functionalUsers.json'), '{\n  "identity": {\n    "healthcheckAPI": {,\n');
      const body = await eventually(async () => {
        const seen = await healthBody(keepd);
        assert.equal(seen.components.config.stale, true);
        return seen;
      });
      assert.equal(body.status, 'degraded');
      assert.equal(body.components.config.generation, 1);
      assert.match(body.components.config.error?.problems.join('\n') ?? '', /^functionalUsers\.json:3:24: invalid JSON/);
      for (const listener of ['health', 'management', 'metrics', 'data'] as const) {
        const paths = { data: '/api/whoami', health: '/health', management: '/info', metrics: '/metrics' };
        const response = await request(`https://127.0.0.1:${keepd.ports[listener] ?? 0}${paths[listener]}`, { auth: [...USERS[listener]] });
        assert.equal(response.status, 200, `${listener} still accepts its old account`);
      }
      const info = (await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/info`, { auth: [...USERS.management] })).json() as { staleConfig: { problems: string[] } | null };
      assert.match(info.staleConfig?.problems[0] ?? '', /functionalUsers\.json:3:24/);
      const metrics = (await request(`https://127.0.0.1:${keepd.ports.metrics ?? 0}/metrics`, { auth: [...USERS.metrics] })).body;
      assert.match(metrics, /^keepd_config_reloads_total\{outcome="rejected",trigger="watch"\} [1-9]/m);
      const errors = keepd.logs.filter((line) => line.level === 50 && line.msg.startsWith('configuration refused'));
      assert.equal(errors.length, 1, 'logged once');

      await writeFile(path.join(dir, 'functionalUsers.json'), JSON.stringify(await functionalUsers()));
      await eventually(async () => assert.equal((await healthBody(keepd)).components.config.stale, false));
      assert.equal((await healthBody(keepd)).status, 'ok');
    } finally {
      await keepd.stop();
    }
  });

  it('a file written in two chunks ends in the good configuration', async () => {
    const { keepd, dir } = await startWith();
    try {
      const text = await healthAccount('chunked', 'chunked-pw');
      const handle = await open(path.join(dir, 'chunked.json'), 'w');
      await handle.write(text.slice(0, 40));
      await handle.sync();
      await eventually(async () => assert.equal((await healthBody(keepd)).components.config.stale, true), 5000);
      await handle.write(text.slice(40));
      await handle.close();
      await expectStatus(keepd, ['chunked', 'chunked-pw'], 200);
      assert.equal((await healthBody(keepd)).components.config.stale, false);
    } finally {
      await keepd.stop();
    }
  });

  it('an editor save (write a temporary file, rename it over the old one) is picked up', async () => {
    const { keepd, dir } = await startWith({ 'extra.json': await healthAccount('before', 'before-pw') });
    try {
      await writeFile(path.join(dir, '.extra.json.tmp~'), await healthAccount('after', 'after-pw'));
      await rename(path.join(dir, '.extra.json.tmp~'), path.join(dir, 'extra.json'));
      await expectStatus(keepd, ['after', 'after-pw'], 200);
      assert.equal(await statusOf(keepd, ['before', 'before-pw']), 401);
    } finally {
      await keepd.stop();
    }
  });

  it('a Kubernetes ConfigMap mount (..data symlink swapped atomically) is picked up', async () => {
    const dir = await tempDir({ 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem });
    // The layout kubelet writes: visible names are symlinks into ..data, itself a symlink to a timestamped directory.
    const version = async (name: string, content: string): Promise<void> => {
      await mkdir(path.join(dir, name));
      await writeFile(path.join(dir, name, 'functionalUsers.json'), content);
    };
    await version('..2026_11_26_10_00_00.000000001', JSON.stringify(await functionalUsers()));
    await symlink('..2026_11_26_10_00_00.000000001', path.join(dir, '..data'));
    await symlink('..data/functionalUsers.json', path.join(dir, 'functionalUsers.json'));
    const keepd = await startKeepd(dir);
    try {
      const users = structuredClone(await functionalUsers()) as { identity: { healthcheckAPI: Record<string, unknown> } };
      users.identity.healthcheckAPI['from-configmap'] = { active: true, secret: await createSecret('cm-pw') };
      await version('..2026_11_26_10_05_00.000000002', JSON.stringify(users));
      await symlink('..2026_11_26_10_05_00.000000002', path.join(dir, '..data_tmp'));
      await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      await rm(path.join(dir, '..2026_11_26_10_00_00.000000001'), { recursive: true });
      await expectStatus(keepd, ['from-configmap', 'cm-pw'], 200);
      assert.equal(await statusOf(keepd, [...USERS.health]), 200);
    } finally {
      await keepd.stop();
    }
  });
});

describe('live configuration: certificates and sockets', () => {
  it('a renewed certificate is served to new connections while a kept-alive one goes on', async () => {
    const certs = await tempDir();
    const key = path.join(certs, 'tls.key');
    const chain = path.join(certs, 'tls.crt');
    await copyFile(tlsFixture('server.key.pem'), key);
    await copyFile(tlsFixture('server.chain.pem'), chain);
    const { keepd } = await startWith({ 'tls.json': { TLSType: 'pem', TLSFile: key, PEMCert: chain } });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await request(health(keepd), { auth: [...USERS.health], agent });
      assert.equal(before.status, 200);
      const oldSerial = before.serialNumber;
      // Renewal as a script does it: certificate first, key second. In between they do not match;
      // keepd must refuse that state and keep serving the old pair.
      await copyFile(tlsFixture('renewed.chain.pem'), chain);
      await keepd.waitForLog((l) => l.level === 50 && l.msg.startsWith('configuration refused') && l.msg.includes('does not match the certificate'));
      const during = await request(health(keepd), { auth: [...USERS.health] });
      assert.equal(during.status, 200);
      assert.equal(during.serialNumber, oldSerial, 'while the files do not match, new connections still get the old pair');
      await copyFile(tlsFixture('renewed.key.pem'), key);
      const fresh = await eventually(async () => {
        const response = await request(health(keepd), { auth: [...USERS.health] });
        assert.notEqual(response.serialNumber, oldSerial);
        return response;
      });
      assert.equal(fresh.status, 200);
      const kept = await request(health(keepd), { auth: [...USERS.health], agent });
      assert.equal(kept.status, 200, 'the connection opened before the renewal still completes requests');
      assert.equal(kept.serialNumber, oldSerial, 'on its original TLS session');
      assert.ok(keepd.logs.some((l) => l.level === 50 && l.msg.startsWith('configuration refused') && l.msg.includes('does not match the certificate')), 'the half-renewed state was refused');
      const info = (await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/info`, { auth: [...USERS.management] })).json() as { listeners: { data: { certificate: { serialNumber: string } } } };
      assert.equal(info.listeners.data.certificate.serialNumber, fresh.serialNumber);
    } finally {
      agent.destroy();
      await keepd.stop();
    }
  });

  it('an address change on the same fixed port rebinds that listener (the old socket lets go first)', async () => {
    const port = await freePort();
    const { keepd, dir } = await startWith({ 'zz-mgmt.json': { MANAGMENTPORT: port, listeners: { management: { HOST: '0.0.0.0' } } } });
    try {
      const info = async () => (await request(`https://127.0.0.1:${port}/info`, { auth: [...USERS.management] })).json() as { generation: number; listeners: { management: { address: string; port: number } }; warnings: string[] };
      assert.equal((await info()).listeners.management.address, '0.0.0.0');
      await writeFile(path.join(dir, 'zz-mgmt.json'), JSON.stringify({ MANAGMENTPORT: port, listeners: { management: { HOST: '127.0.0.1' } } }));
      const after = await eventually(async () => {
        const seen = await info();
        assert.equal(seen.generation, 2);
        return seen;
      });
      assert.deepEqual(after.listeners.management, { ...after.listeners.management, address: '127.0.0.1', port });
      assert.ok(!after.warnings.some((w) => w.startsWith('the management listener accepts connections')));
    } finally {
      await keepd.stop();
    }
  });

  it('a port change rebinds only that listener', async () => {
    const { keepd, dir } = await startWith();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const oldMetrics = keepd.ports.metrics ?? 0;
      const oldHealth = keepd.ports.health;
      assert.equal((await request(health(keepd), { auth: [...USERS.health], agent })).status, 200);
      const port = await freePort();
      await writeFile(path.join(dir, 'zz-port.json'), JSON.stringify({ METRICSPORT: port }));
      await eventually(async () => {
        const response = await request(`https://127.0.0.1:${port}/metrics`, { auth: [...USERS.metrics] });
        assert.equal(response.status, 200);
      });
      // The new socket answers before the old one is let go: the reload is over once it logs.
      await keepd.waitForLog((l) => l.msg.startsWith('configuration generation 2 applied'));
      await assert.rejects(request(`https://127.0.0.1:${oldMetrics}/metrics`, { auth: [...USERS.metrics] }), /ECONNREFUSED/);
      assert.equal(keepd.ports.health, oldHealth);
      assert.equal((await request(health(keepd), { auth: [...USERS.health], agent })).status, 200, 'health kept its socket and connections');
      const rebound = keepd.logs.filter((l) => typeof l.port === 'number' && l.msg.includes(' listener on '));
      assert.deepEqual(rebound.map((l) => l.listener).sort(), ['data', 'health', 'management', 'metrics', 'metrics']);
    } finally {
      agent.destroy();
      await keepd.stop();
    }
  });
});
