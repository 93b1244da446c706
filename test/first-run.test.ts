import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { request } from './helpers/http-client.js';
import { failedStart, startKeepd } from './helpers/keepd-process.js';
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

  it('keeps the passwords when the first start cannot bind: they are printed with the error and work on the next start', async () => {
    const dir = await tempDir();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      const failed = await failedStart(dir, { ...ENV, HEALTHCHECKPORT: String(taken) });
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /the health listener cannot listen on 127\.0\.0\.1:\d+: the port is already in use/);
      const passwords = [...failed.stdout.matchAll(/^ {2}\w+ +keepd-\w+ +(\S+)$/gm)].map((m) => m[1] ?? '');
      assert.equal(passwords.length, 4, failed.stdout);
      assert.match(failed.stdout, /the accounts are kept and work once it does/);
    } finally {
      blocker.close();
    }
    const second = await startKeepd(dir, { env: ENV });
    try {
      assert.ok(!second.stderr().includes('never shown'), second.stderr());
    } finally {
      await second.stop();
    }
  });

  it('says so, with the command that starts over, when the first-run passwords were never shown; removes leftover temporary files', async () => {
    const dir = await tempDir();
    const first = await startKeepd(dir, { env: ENV });
    await first.waitForStdout(/Try them:/);
    await first.stop();
    // As if the first start had been killed after writing its files and before printing.
    const file = path.join(dir, '00-keepd-first-run.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    assert.equal(config._passwordsShown, true);
    writeFileSync(file, JSON.stringify({ ...config, _passwordsShown: false }));
    writeFileSync(path.join(dir, '.keepd-first-run.key.pem.4242.tmp'), 'half a key');
    const again = await startKeepd(dir, { env: ENV });
    try {
      await again.waitForLog((line) => line.level === 40 && /passwords were never shown/.test(line.msg));
      await eventually(() => Promise.resolve(assert.match(again.stderr(), /never shown .* run: rm '.*00-keepd-first-run\.json' '.*keepd-first-run\.key\.pem' '.*keepd-first-run\.cert\.pem' and start keepd again/)));
      assert.ok(!existsSync(path.join(dir, '.keepd-first-run.key.pem.4242.tmp')), 'the leftover is gone');
    } finally {
      await again.stop();
    }
  });
  it('with acme.domains only: accounts, no self-signed certificate (the listeners take theirs from ACME), once', async () => {
    const acme = { acme: { directory: 'https://127.0.0.1:9/dir', domains: ['first.keepd.test'], stateDir: path.join(await tempDir(), 'acme') } };
    const dir = await tempDir({ 'acme.json': acme });
    const first = await startKeepd(dir, { env: ENV });
    try {
      await first.waitForStdout(/Try them:(\n {2}curl .*){4}\n/);
      assert.match(first.stdout(), /created one per listener \(their certificate\ncomes from ACME, for first\.keepd\.test\)/);
      assert.match(first.stdout(), /curl -u 'keepd-health:\S+' https:\/\/first\.keepd\.test:\d+\/health/);
      assert.equal(existsSync(path.join(dir, 'keepd-first-run.cert.pem')), false);
      assert.equal(first.schemes.health, 'https');
      const config = JSON.parse(readFileSync(path.join(dir, '00-keepd-first-run.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(config.TLSFile, undefined);
      assert.ok(config.identity);
    } finally {
      await first.stop();
    }
    const second = await startKeepd(dir, { env: ENV });
    try {
      assert.ok(!second.stdout().includes('first run'), 'no new accounts the second time');
    } finally {
      await second.stop();
    }
  });
});
