import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { request } from './helpers/http-client.js';
import { startKeepd } from './helpers/keepd-process.js';
import { functionalUsers, TLS_CONFIGS, tlsFixture, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const serial = (file: string): string => new X509Certificate(readFileSync(tlsFixture(file))).serialNumber;

describe('per-listener blocks (keepd extension)', () => {
  it('give management its own address and certificate while the others use the top-level ones', async () => {
    const dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      'ports.json': { PORT: 0, HEALTHCHECKPORT: 0, MANAGMENTPORT: 0, METRICSPORT: 0 },
      'tls.json': TLS_CONFIGS.pfx,
      'listeners.json': {
        listeners: {
          management: { HOST: '127.0.0.1', TLSType: 'pem', TLSFile: tlsFixture('other.key.pem'), PEMCert: tlsFixture('other.cert.pem') },
        },
      },
    });
    const keepd = await startKeepd(dir);
    try {
      const bound = new Map(keepd.logs.filter((l) => l.listener && l.address).map((l) => [l.listener, l.address]));
      assert.equal(bound.get('management'), '127.0.0.1');
      assert.equal(bound.get('health'), '::', 'no HOST: all interfaces');
      const management = await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/info`, { auth: [...USERS.management] });
      assert.equal(management.serialNumber, serial('other.cert.pem'));
      const health = await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] });
      assert.equal(health.serialNumber, serial('server.cert.pem'));
    } finally {
      await keepd.stop();
    }
  });

  it('a listener block can disable a listener', async () => {
    const dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      'ports.json': { HOST: '127.0.0.1', PORT: 0, HEALTHCHECKPORT: 0, MANAGMENTPORT: 0, METRICSPORT: 0 },
      'tls.json': TLS_CONFIGS.pem,
      'listeners.json': { listeners: { data: { enabled: false } } },
    });
    const keepd = await startKeepd(dir, { expect: 3 });
    try {
      assert.deepEqual(Object.keys(keepd.ports).sort(), ['health', 'management', 'metrics']);
    } finally {
      await keepd.stop();
    }
  });
});
