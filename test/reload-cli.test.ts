import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createSecret } from '../src/accounts/secret.js';
import { freePort } from './helpers/free-port.js';
import { request } from './helpers/http-client.js';
import { startedWatching, startKeepd } from './helpers/keepd-process.js';
import { FIXTURES } from './helpers/paths.js';
import { runCli } from './helpers/run-cli.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const CA = path.join(FIXTURES, 'tls', 'ca.cert.pem');
const [ADMIN, ADMIN_PASSWORD] = USERS.management;

/** A daemon that does not watch its directory: only explicit reloads apply changes. */
async function unwatched(ports: object = TEST_BASE) {
  const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': ports, 'tls.json': TLS_CONFIGS.pem, 'watch.json': { watch: { enabled: false } } });
  return { dir, keepd: await startKeepd(dir) };
}

async function addHealthAccount(dir: string, name: string, password: string): Promise<void> {
  await writeFile(path.join(dir, 'extra.json'), JSON.stringify({ identity: { healthcheckAPI: { [name]: { active: true, secret: await createSecret(password) } } } }));
}

describe('keepd reload (the counterpart of tell restapi reload)', () => {
  it('applies a changed configuration, says when nothing changed, and reports a refusal', async () => {
    const { dir, keepd } = await unwatched();
    const url = `https://127.0.0.1:${keepd.ports.management ?? 0}`;
    const env = { KEEPD_USER: ADMIN, KEEPD_PASSWORD: ADMIN_PASSWORD };
    const healthUrl = `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;
    try {
      const unchanged = await runCli(['reload', '--url', url, '--cacert', CA], { env });
      assert.deepEqual([unchanged.code, unchanged.stdout], [0, 'keepd: configuration unchanged (generation 1)\n'], unchanged.stderr);

      // Not watched: keepd started no watcher (it logs one before its listeners bind), so nothing
      // but the reload below can apply the change; no need to wait and see that nothing happens.
      assert.ok(!keepd.logs.some(startedWatching), 'no watcher was started');
      await addHealthAccount(dir, 'late', 'late-pw');
      assert.equal((await request(healthUrl, { auth: ['late', 'late-pw'] })).status, 401, 'not watched: nothing applied yet');
      const applied = await runCli(['reload', '--url', url, '--cacert', CA, '--user', ADMIN], { env: { KEEPD_PASSWORD: ADMIN_PASSWORD } });
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /^keepd: configuration generation 2 applied:\n {2}- configuration\n$/);
      assert.equal((await request(healthUrl, { auth: ['late', 'late-pw'] })).status, 200);

      await writeFile(path.join(dir, 'extra.json'), '{"identity": ');
      const refused = await runCli(['reload', '--url', url, '--cacert', CA], { env });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^keepd: configuration refused; still serving generation 2:\n {2}- extra\.json:1:14: invalid JSON: the file ends too early/);
      assert.equal((await request(healthUrl, { auth: ['late', 'late-pw'] })).status, 200);
    } finally {
      await keepd.stop();
    }
  });

  it('reads the password from stdin when KEEPD_PASSWORD is not set', async () => {
    const { keepd } = await unwatched();
    try {
      const run = await runCli(['reload', '--url', `https://127.0.0.1:${keepd.ports.management ?? 0}`, '--cacert', CA, '--user', ADMIN], { input: `${ADMIN_PASSWORD}\n` });
      assert.equal(run.code, 0, run.stderr);
    } finally {
      await keepd.stop();
    }
  });

  it('finds the management listener from the configuration when no URL is given', async () => {
    const port = await freePort();
    const { dir, keepd } = await unwatched({ ...TEST_BASE, MANAGMENTPORT: port });
    try {
      await addHealthAccount(dir, 'found', 'found-pw');
      const run = await runCli(['reload', '--config-dir', dir], { env: { KEEPD_USER: ADMIN, KEEPD_PASSWORD: ADMIN_PASSWORD } });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /generation 2 applied/);
    } finally {
      await keepd.stop();
    }
  });

  it('SIGHUP reloads too', async () => {
    const { dir, keepd } = await unwatched();
    try {
      await addHealthAccount(dir, 'hup', 'hup-pw');
      keepd.child.kill('SIGHUP');
      await keepd.waitForLog((line) => line.msg === 'configuration generation 2 applied (SIGHUP)');
      assert.equal((await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: ['hup', 'hup-pw'] })).status, 200);
    } finally {
      await keepd.stop();
    }
  });

  it('explains wrong credentials, an unreachable address, an unverifiable certificate and a missing user', async () => {
    const { keepd } = await unwatched();
    const url = `https://127.0.0.1:${keepd.ports.management ?? 0}`;
    try {
      const wrong = await runCli(['reload', '--url', url, '--cacert', CA], { env: { KEEPD_USER: ADMIN, KEEPD_PASSWORD: 'nope' } });
      assert.equal(wrong.code, 2);
      assert.match(wrong.stderr, /refused the credentials of "Doctor Notes" \(401\)/);
      const untrusted = await runCli(['reload', '--url', url], { env: { KEEPD_USER: ADMIN, KEEPD_PASSWORD: ADMIN_PASSWORD } });
      assert.equal(untrusted.code, 2);
      assert.match(untrusted.stderr, /cannot verify the certificate of .*give --cacert/);
      const insecure = await runCli(['reload', '--url', url, '--insecure'], { env: { KEEPD_USER: ADMIN, KEEPD_PASSWORD: ADMIN_PASSWORD } });
      assert.equal(insecure.code, 0, insecure.stderr);
      const noUser = await runCli(['reload', '--url', url]);
      assert.equal(noUser.code, 2);
      assert.match(noUser.stderr, /give a management account with --user/);
    } finally {
      await keepd.stop();
    }
    const gone = await runCli(['reload', '--url', url, '--cacert', CA], { env: { KEEPD_USER: ADMIN, KEEPD_PASSWORD: ADMIN_PASSWORD } });
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /nothing answers at https:\/\/127\.0\.0\.1:\d+ \(is keepd running\?/);
  });
});
