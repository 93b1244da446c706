import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { request } from './helpers/http-client.js';
import { startKeepd } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, tlsFixture, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const serverSerial = new X509Certificate(readFileSync(tlsFixture('server.cert.pem'))).serialNumber;

describe('TLS material of every type the product supports', () => {
  for (const [kind, tls] of Object.entries(TLS_CONFIGS)) {
    it(`serves all four listeners over TLS from ${kind}`, async () => {
      const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': tls });
      const keepd = await startKeepd(dir);
      try {
        assert.deepEqual(keepd.schemes, { data: 'https', health: 'https', management: 'https', metrics: 'https' });
        const health = await request(`https://127.0.0.1:${keepd.ports.health}/health`, { auth: [...USERS.health] });
        assert.equal(health.status, 200, health.body);
        assert.equal(health.serialNumber, serverSerial, 'the server presents the fixture certificate, verified against the test CA');
        const info = await request(`https://127.0.0.1:${keepd.ports.management}/info`, { auth: [...USERS.management] });
        const listeners = (info.json() as { listeners: Record<string, { certificate: { subject: string; serialNumber: string } }> }).listeners;
        assert.equal(listeners.data?.certificate.subject, 'CN=keepd test server');
        assert.equal(listeners.metrics?.certificate.serialNumber, serverSerial);
      } finally {
        assert.equal(await keepd.stop(), 0);
      }
    });
  }
});
