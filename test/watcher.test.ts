import assert from 'node:assert/strict';
import { copyFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createSecret } from '../src/accounts/secret.js';
import { isRelevantChange, maxWaitMs } from '../src/runtime/config-watcher.js';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess, type LogLine } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, tlsFixture, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

describe('which changes make a reload', () => {
  const targets = { directories: ['/etc/keepconfig.d'], files: ['/etc/tls/server.key', '/etc/tls/server.crt', '/etc/keepconfig.d/keepd-first-run.key.pem'] };
  const cases: [string, boolean][] = [
    ['/etc/keepconfig.d/users.json', true],
    ['/etc/keepconfig.d/..data', true],
    ['/etc/keepconfig.d/..2026_11_30_10_00_00.123', true],
    ['/etc/keepconfig.d', true],
    ['/etc/keepconfig.d/.users.json.swp', false],
    ['/etc/keepconfig.d/.#users.json', false],
    ['/etc/keepconfig.d/users.json~', false],
    ['/etc/keepconfig.d/4913', false],
    ['/etc/keepconfig.d/notes.txt', false],
    ['/etc/keepconfig.d/tls.json.example', false],
    ['/etc/keepconfig.d/keepd-first-run.key.pem', true],
    ['/etc/keepconfig.d/other.pem', false],
    ['/etc/keepconfig.d/sub/users.json', false],
    ['/etc/tls/server.key', true],
    ['/etc/tls/..data', true],
    ['/etc/tls/other.key', false],
    ['/etc/other.json', false],
    ['/etc', false],
  ];
  for (const [changed, relevant] of cases) it(`${changed}: ${relevant ? 'reload' : 'ignored'}`, () => assert.equal(isRelevantChange(changed, targets), relevant));

  it('caps the wait for a quiet moment', () => {
    assert.equal(maxWaitMs(75), 1000);
    assert.equal(maxWaitMs(5000), 20_000);
  });
});

async function startWatched(): Promise<{ keepd: KeepdProcess; dir: string }> {
  const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem });
  return { keepd: await startKeepd(dir), dir };
}

/** The next log line that matches, ignoring those already logged. */
const nextLog = (keepd: KeepdProcess, match: (line: LogLine) => boolean) => {
  const from = keepd.logs.length;
  return keepd.waitForLog((line) => keepd.logs.indexOf(line) >= from && match(line), 15_000);
};
const applied = (keepd: KeepdProcess, generation: number) => keepd.waitForLog((line) => line.msg.startsWith(`configuration generation ${generation} applied (watch`), 15_000);
const healthStatus = async (keepd: KeepdProcess, auth: [string, string]): Promise<number> => (await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth })).status;
const account = async (name: string, password: string): Promise<string> => JSON.stringify({ identity: { healthcheckAPI: { [name]: { active: true, secret: await createSecret(password) } } } });

describe('watching', () => {
  it('resumes by itself after the configuration directory is deleted and recreated, or renamed away and back', async () => {
    const { keepd, dir } = await startWatched();
    const files = { users: JSON.stringify(await functionalUsers()), ports: JSON.stringify(TEST_BASE), tls: JSON.stringify(TLS_CONFIGS.pem) };
    const restore = async (): Promise<void> => {
      await writeFile(path.join(dir, 'functionalUsers.json'), files.users);
      await writeFile(path.join(dir, 'ports.json'), files.ports);
      await writeFile(path.join(dir, 'tls.json'), files.tls);
    };
    try {
      await rm(dir, { recursive: true });
      await nextLog(keepd, (line) => /^configuration refused \(watch/.test(line.msg));
      await mkdir(dir);
      await restore();
      await writeFile(path.join(dir, 'late.json'), await account('late', 'late-pw'));
      await applied(keepd, 2);
      assert.equal(await healthStatus(keepd, ['late', 'late-pw']), 200);

      const before = keepd.logs.length;
      await rename(dir, `${dir}.away`);
      await keepd.waitForLog((line) => keepd.logs.indexOf(line) >= before && /^configuration refused \(watch/.test(line.msg));
      await rename(`${dir}.away`, dir);
      await writeFile(path.join(dir, 'later.json'), await account('later', 'later-pw'));
      await applied(keepd, 3);
      assert.equal(await healthStatus(keepd, ['later', 'later-pw']), 200);
    } finally {
      await keepd.stop();
      await rm(`${dir}.away`, { recursive: true, force: true });
    }
  });

  it('a file churned every 30 ms does not postpone a reload; editor swap files are not changes at all', async () => {
    const { keepd, dir } = await startWatched();
    const state = { churning: true };
    const churn = (async () => {
      for (let i = 0; state.churning; i++) {
        await writeFile(path.join(dir, '.functionalUsers.json.swp'), String(i));
        await writeFile(path.join(dir, 'zz-churn.json'), JSON.stringify({ churn: i }));
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    })();
    try {
      await writeFile(path.join(dir, 'late.json'), await account('late', 'late-pw'));
      // Applied while the churn goes on (the wait is capped), not after it stops.
      await keepd.waitForLog((line) => /^configuration generation \d+ applied \(watch/.test(line.msg) && JSON.stringify(line.origin ?? '').includes('late.json'), 15_000);
      assert.equal(await healthStatus(keepd, ['late', 'late-pw']), 200);
      assert.ok(!keepd.logs.some((line) => JSON.stringify(line.origin ?? '').includes('.swp')), 'swap files never trigger a reload');
    } finally {
      state.churning = false;
      await churn;
      await keepd.stop();
    }
  });

  it('a symlink loop named x.json is noticed when it appears (refused, naming it) and when it goes', async () => {
    const { keepd, dir } = await startWatched();
    try {
      await symlink('loop.json', path.join(dir, 'loop.json'));
      const refused = await keepd.waitForLog((line) => /^configuration refused \(watch/.test(line.msg));
      assert.match(JSON.stringify(refused.problems), /loop\.json/);
      await rm(path.join(dir, 'loop.json'));
      await keepd.waitForLog((line) => /generation 1 again/.test(line.msg));
      assert.equal(await healthStatus(keepd, [...USERS.health]), 200);
    } finally {
      await keepd.stop();
    }
  });

  it('a certificate kept in the configuration directory (as the first run does) is renewed live', async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': { TLSType: 'pem', TLSFile: 'tls.key.pem', PEMCert: 'tls.chain.pem' } });
    await copyFile(tlsFixture('server.key.pem'), path.join(dir, 'tls.key.pem'));
    await copyFile(tlsFixture('server.chain.pem'), path.join(dir, 'tls.chain.pem'));
    const keepd = await startKeepd(dir);
    try {
      const before = (await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] })).serialNumber;
      // As a renewal script does: new files beside, then renamed over the old ones.
      await copyFile(tlsFixture('renewed.key.pem'), path.join(dir, '.tls.key.pem.new'));
      await copyFile(tlsFixture('renewed.chain.pem'), path.join(dir, '.tls.chain.pem.new'));
      await rename(path.join(dir, '.tls.chain.pem.new'), path.join(dir, 'tls.chain.pem'));
      await rename(path.join(dir, '.tls.key.pem.new'), path.join(dir, 'tls.key.pem'));
      await keepd.waitForLog((line) => line.msg === 'health listener: new TLS context for new connections');
      const after = (await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] })).serialNumber;
      assert.notEqual(after, before);
    } finally {
      await keepd.stop();
    }
  });
});
