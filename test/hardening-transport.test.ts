import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { request } from './helpers/http-client.js';
import { FIXTURES } from './helpers/paths.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

/** `openssl s_client` with the given options; true when the handshake completed. */
function handshake(port: number, ...options: string[]): boolean {
  const run = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', `${FIXTURES}/tls/ca.cert.pem`, ...options], {
    input: '',
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (run.error) throw run.error;
  return run.status === 0 && /Verify return code: 0 \(ok\)/.test(run.stdout);
}

describe('TLS policy as openssl s_client sees it', () => {
  let keepd: KeepdProcess;
  before(async () => {
    keepd = await startKeepd(await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem }));
  });
  after(() => keepd.stop());

  it('refuses TLS 1.0 and 1.1, even from a client that offers them at any security level', () => {
    const port = keepd.ports.health ?? 0;
    assert.equal(handshake(port, '-tls1', '-cipher', 'DEFAULT:@SECLEVEL=0'), false);
    assert.equal(handshake(port, '-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0'), false);
    assert.equal(handshake(port, '-tls1_2'), true);
    assert.equal(handshake(port, '-tls1_3'), true);
  });

  it('refuses weak ciphers: CBC, RSA key exchange, 3DES, RC4, NULL', () => {
    const port = keepd.ports.management ?? 0;
    for (const cipher of ['AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA', 'DES-CBC3-SHA', 'RC4-SHA', 'NULL-SHA256']) {
      assert.equal(handshake(port, '-tls1_2', '-cipher', `${cipher}:@SECLEVEL=0`), false, cipher);
    }
    assert.equal(handshake(port, '-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'), true);
  });
});

describe('security headers', () => {
  it('HSTS on TLS listeners, nosniff everywhere, no-store on management, health and every 401', async () => {
    const dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      'ports.json': TEST_BASE,
      'tls.json': TLS_CONFIGS.pem,
    });
    const keepd = await startKeepd(dir);
    try {
      const get = (listener: 'data' | 'health' | 'management' | 'metrics', route: string, auth?: readonly [string, string]) =>
        request(`https://127.0.0.1:${keepd.ports[listener] ?? 0}${route}`, auth ? { auth: [...auth] } : {});
      const health = await get('health', '/health', USERS.health);
      const info = await get('management', '/info', USERS.management);
      const metrics = await get('metrics', '/metrics', USERS.metrics);
      const whoami = await get('data', '/api/whoami', USERS.data);
      const refused = await get('metrics', '/metrics');
      for (const response of [health, info, metrics, whoami, refused]) {
        assert.equal(response.headers['x-content-type-options'], 'nosniff');
        assert.equal(response.headers['strict-transport-security'], 'max-age=31536000');
      }
      assert.equal(health.headers['cache-control'], 'no-store');
      assert.equal(info.headers['cache-control'], 'no-store');
      assert.equal(refused.headers['cache-control'], 'no-store');
      assert.equal(metrics.headers['cache-control'], undefined);
    } finally {
      await keepd.stop();
    }

    const plainDir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE });
    const plain = await startKeepd(plainDir);
    try {
      const response = await request(`http://127.0.0.1:${plain.ports.health ?? 0}/health`, { auth: [...USERS.health] });
      assert.equal(response.status, 200);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['strict-transport-security'], undefined, 'HSTS only over TLS');
    } finally {
      await plain.stop();
    }
  });
});

describe('management exposure', () => {
  it('warns at start when management is reachable on a non-loopback address', async () => {
    const base = { PORT: 0, HEALTHCHECKPORT: 0, MANAGMENTPORT: 0, METRICSPORT: 0 };
    const open = await startKeepd(await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': base, 'tls.json': TLS_CONFIGS.pem }));
    try {
      await open.waitForLog((line) => line.level === 40 && line.msg.startsWith('the management listener accepts connections on all interfaces: the product recommends localhost only; set listeners.management.HOST to "127.0.0.1"'));
    } finally {
      await open.stop();
    }
    const closed = await startKeepd(await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': base, 'tls.json': TLS_CONFIGS.pem, 'm.json': { listeners: { management: { HOST: '127.0.0.1' } } } }));
    try {
      assert.ok(!closed.logs.some((line) => line.msg.startsWith('the management listener accepts connections')));
    } finally {
      await closed.stop();
    }
  });
});
