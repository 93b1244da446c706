import assert from 'node:assert/strict';
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect } from 'node:tls';
import { describe, it } from 'node:test';
import { createSecret } from '../src/accounts/secret.js';
import { freePort } from './helpers/free-port.js';
import { request, TEST_CA } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

/*
 * Reloads through POST /reload with watching off: each reload is one answer to assert on, and
 * nothing races a watcher.
 */

type Outcome = { status: string; generation: number; changes?: string[]; errors?: string[]; problems?: string[] };

async function startWith(files: Record<string, object>): Promise<{ keepd: KeepdProcess; dir: string }> {
  const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': { ...TEST_BASE, watch: { enabled: false } }, 'tls.json': TLS_CONFIGS.pem, ...files });
  return { keepd: await startKeepd(dir), dir };
}

const url = (keepd: KeepdProcess, listener: 'health' | 'management', route: string): string => `https://127.0.0.1:${keepd.ports[listener] ?? 0}${route}`;

async function reload(keepd: KeepdProcess): Promise<Outcome> {
  return (await request(url(keepd, 'management', '/reload'), { method: 'POST', auth: [...USERS.management] })).json() as Outcome;
}

async function get(port: number, route: string, auth: readonly [string, string]): Promise<{ status: number; body: unknown }> {
  const answer = await request(`https://127.0.0.1:${port}${route}`, { auth: [...auth] });
  return { status: answer.status, body: answer.body === '' ? undefined : answer.json() };
}

describe('reload pipeline', () => {
  it('after tuning a limit, a reload with no edit is unchanged (the running settings were updated)', async () => {
    const { keepd, dir } = await startWith({});
    try {
      await writeFile(path.join(dir, 'limits.json'), JSON.stringify({ limits: { keepAliveTimeoutMs: 5000 } }));
      const tuned = await reload(keepd);
      assert.equal(tuned.status, 'applied');
      assert.ok(tuned.changes?.includes('health: tune (limits)'), JSON.stringify(tuned));
      assert.deepEqual(await reload(keepd), { status: 'unchanged', generation: tuned.generation });
      assert.deepEqual(await reload(keepd), { status: 'unchanged', generation: tuned.generation });
    } finally {
      await keepd.stop();
    }
  });

  it('a renamed file with the same content moves provenance: /config?sources and /info name the new file', async () => {
    const { keepd, dir } = await startWith({ 'a.json': { drainTimeoutSeconds: 3 } });
    try {
      await rename(path.join(dir, 'a.json'), path.join(dir, 'b.json'));
      const outcome = await reload(keepd);
      assert.equal(outcome.status, 'applied');
      const sources = (await get(keepd.ports.management ?? 0, '/config?sources', USERS.management)).body as { drainTimeoutSeconds: { source: string } };
      assert.equal(sources.drainTimeoutSeconds.source, 'b.json');
      const info = (await get(keepd.ports.management ?? 0, '/info', USERS.management)).body as { configFiles: string[] };
      assert.ok(info.configFiles.some((file) => file.endsWith('b.json')) && !info.configFiles.some((file) => file.endsWith('a.json')), JSON.stringify(info.configFiles));
    } finally {
      await keepd.stop();
    }
  });

  it('a HOST typo on a fixed port: the old socket keeps serving, the reload says why, /health and /info show it', async () => {
    const port = await freePort();
    const { keepd, dir } = await startWith({ 'zz-health.json': { HEALTHCHECKPORT: port } });
    try {
      await writeFile(path.join(dir, 'zz-health.json'), JSON.stringify({ HEALTHCHECKPORT: port, listeners: { health: { HOST: '192.0.2.77' } } }));
      const outcome = await reload(keepd);
      assert.equal(outcome.status, 'applied');
      assert.match(outcome.errors?.[0] ?? '', /the health listener cannot listen on 192\.0\.2\.77:\d+: this machine has no such address; fix HOST/);
      const health = await get(port, '/health', USERS.health);
      assert.equal(health.status, 200, 'still served on the old address');
      const body = health.body as { status: string; components: { config: { status: string; stale: boolean; error?: { problems: string[] } } } };
      assert.equal(body.status, 'degraded');
      assert.equal(body.components.config.stale, true);
      assert.match(body.components.config.error?.problems[0] ?? '', /fix HOST/);
      const info = (await get(keepd.ports.management ?? 0, '/info', USERS.management)).body as { listeners: { health: { up: boolean; address: string } }; staleConfig: unknown };
      assert.deepEqual([info.listeners.health.up, info.listeners.health.address], [true, '127.0.0.1']);
      assert.notEqual(info.staleConfig, null);
      // Fixed: no socket work is left (the old address is what runs), and the stale state clears.
      await writeFile(path.join(dir, 'zz-health.json'), JSON.stringify({ HEALTHCHECKPORT: port }));
      const fixed = await reload(keepd);
      assert.deepEqual([fixed.status, fixed.changes, fixed.errors], ['applied', ['configuration'], []]);
      assert.equal(((await get(port, '/health', USERS.health)).body as { status: string }).status, 'ok');
    } finally {
      await keepd.stop();
    }
  });

  it('two listeners that swap ports both move', async () => {
    const [a, b] = [await freePort(), await freePort()];
    const { keepd, dir } = await startWith({ 'zz-ports.json': { HEALTHCHECKPORT: a, METRICSPORT: b } });
    try {
      await writeFile(path.join(dir, 'zz-ports.json'), JSON.stringify({ HEALTHCHECKPORT: b, METRICSPORT: a }));
      const outcome = await reload(keepd);
      assert.deepEqual(outcome.errors, [], JSON.stringify(outcome));
      assert.equal((await get(b, '/health', USERS.health)).status, 200);
      assert.equal((await request(`https://127.0.0.1:${a}/metrics`, { auth: [...USERS.metrics] })).status, 200);
    } finally {
      await keepd.stop();
    }
  });

  it('an authorized POST /shutdown stops keepd even when the client hangs up before the answer', async () => {
    const key = 'The End is near!!';
    const { keepd } = await startWith({ 'key.json': { shutdownkey: await createSecret(key) } });
    // The account is verified and cached first: the request then reaches the route at once, and
    // the client leaves while the route verifies the key (a PBKDF2 run).
    assert.equal((await request(url(keepd, 'management', '/info'), { auth: [...USERS.management] })).status, 200);
    const body = JSON.stringify({ shutdownkey: key });
    const auth = Buffer.from(`${USERS.management[0]}:${USERS.management[1]}`).toString('base64');
    const socket = connect({ host: '127.0.0.1', port: keepd.ports.management ?? 0, ca: TEST_CA, servername: 'localhost' });
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    // Gone as soon as the request is out: the answer has nowhere to go.
    socket.write(`POST /shutdown HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic ${auth}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, () => socket.destroy());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running after 10 s'), 10_000)));
    assert.equal(await Promise.race([keepd.exited, timeout]), 0);
    clearTimeout(timer);
    assert.ok(keepd.logs.some((line) => /stopping \(POST \/shutdown\)/.test(line.msg)));
  });

  it('a reload never turns TLS off: the TLS file removed and put back (rm, then cp) is refused in the gap and noticed after', async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem });
    const keepd = await startKeepd(dir);
    try {
      await rm(path.join(dir, 'tls.json'));
      const refused = await keepd.waitForLog((line) => /^configuration refused \(watch/.test(line.msg));
      assert.match(JSON.stringify(refused.problems), /the data listener serves TLS and this configuration has no TLS keys for it; a reload never turns TLS off/);
      const health = await get(keepd.ports.health ?? 0, '/health', USERS.health);
      assert.equal(health.status, 200, 'still served over TLS (the client verifies the certificate)');
      assert.equal((health.body as { components: { config: { stale: boolean } } }).components.config.stale, true);
      await writeFile(path.join(dir, 'tls.json'), JSON.stringify(TLS_CONFIGS.pem));
      await keepd.waitForLog((line) => /^the configuration on disk is generation 1 again \(watch/.test(line.msg));
      const after = (await get(keepd.ports.health ?? 0, '/health', USERS.health)).body as { components: { config: { stale: boolean } } };
      assert.equal(after.components.config.stale, false);
    } finally {
      await keepd.stop();
    }
  });
});
