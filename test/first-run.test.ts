import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { request } from './helpers/http-client.js';
import { startKeepd } from './helpers/keepd-process.js';
import { tempDir } from './helpers/temp-dir.js';

const ENV = { HOST: '127.0.0.1', PORT: '0', HEALTHCHECKPORT: '0', MANAGMENTPORT: '0', METRICSPORT: '0' };

describe('secure first run', () => {
  it('creates a certificate and one account per listener once, prints working curl commands, and reuses them later', async () => {
    const dir = await tempDir();
    const first = await startKeepd(dir, { env: ENV });
    await first.waitForStdout(/Try them:(\n {2}curl .*){4}\n/);
    const banner = first.stdout();
    const curls = banner.split('\n').filter((line) => line.trimStart().startsWith('curl '));
    assert.equal(curls.length, 4, banner);
    assert.equal(first.schemes.health, 'https');

    // Only salted secrets on disk; the key readable by its owner only.
    const config = readFileSync(path.join(dir, '00-keepd-first-run.json'), 'utf8');
    const passwords = [...banner.matchAll(/^ {2}\w+ +keepd-\w+ +(\S+)$/gm)].map((m) => m[1] ?? '');
    assert.equal(passwords.length, 4);
    for (const password of passwords) assert.ok(!config.includes(password));
    assert.equal(statSync(path.join(dir, 'keepd-first-run.key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(dir, '00-keepd-first-run.json')).mode & 0o077, 0);
    assert.ok(first.logs.every((line) => passwords.every((p) => !JSON.stringify(line).includes(p))), 'passwords never reach the log');

    // The printed commands work as they are.
    for (const command of curls) {
      const run = spawnSync('sh', ['-c', `${command} -fsS -o /dev/null -w '%{http_code}'`], { encoding: 'utf8' });
      assert.equal(run.stdout, '200', `${command.replace(/:[^:@']+'/, ":***'")}\n${run.stderr}`);
    }
    assert.equal(await first.stop(), 0);

    const second = await startKeepd(dir, { env: ENV });
    try {
      assert.ok(!second.stdout().includes('first run'), 'no new accounts the second time');
      const ca = readFileSync(path.join(dir, 'keepd-first-run.cert.pem'));
      const health = await request(`https://127.0.0.1:${second.ports.health ?? 0}/health`, { ca, auth: ['keepd-health', passwords[1] ?? ''] });
      assert.equal(health.status, 200);
    } finally {
      await second.stop();
    }
  });

  it('does not run when accounts or TLS are configured', async () => {
    const dir = await tempDir({ 'users.json': { identity: { healthcheckAPI: { probe: { active: true, secret: `${'A'.repeat(64)}:${'B'.repeat(128)}` } } } } });
    const keepd = await startKeepd(dir, { env: ENV });
    try {
      assert.equal(keepd.schemes.health, 'http');
      assert.ok(!keepd.stdout().includes('first run'));
      const warning = (text: string) => keepd.waitForLog((line) => line.level === 40 && line.msg === text, 5000);
      for (const name of ['data', 'health', 'management', 'metrics']) {
        await warning(`the ${name} listener serves plain http: passwords cross the network in clear text; configure TLSFile and TLSType`);
      }
      await warning('no active account in identity.managementAPI: nobody can log in to the management listener');
    } finally {
      await keepd.stop();
    }
  });
});
