import assert from 'node:assert/strict';
import { saltPlatformPassword } from '../src/accounts/platform-secret.js';
import { describe, it } from 'node:test';
import { assembleConfig } from '../src/config/assemble.js';
import type { JsonObject } from '../src/config/json.js';
import { MASK, maskConfig } from '../src/config/mask.js';
import { listSources } from '../src/config/provenance.js';
import { PUBLISHED } from './helpers/published.js';
import { tempDir } from './helpers/temp-dir.js';

const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n';
const OTHER_SECRET = `${'AB'.repeat(32)}:${'CD'.repeat(64)}`;

/** Every secret string planted in the test configuration below. */
const SECRETS = [
  PUBLISHED.password,
  PUBLISHED.metrics,
  OTHER_SECRET,
  'P@$$w0rd1352',
  'env-tls-password',
  'platform-health-password',
  'ldap-bind-pass',
  'oauth-client-secret',
  'api-key-123456',
  PEM_KEY,
  'nested-token-value',
];

describe('masking the effective configuration', () => {
  it('leaves none of the configured secrets in the masked output, with or without sources', async () => {
    const dir = await tempDir({
      'functionalUsers.json': {
        identity: {
          healthcheckAPI: { probe: { active: true, secret: PUBLISHED.metrics } },
          managementAPI: { 'Doctor Notes': { active: true, secret: PUBLISHED.password } },
          metricsAPI: { metrics: { active: false, secret: OTHER_SECRET } },
        },
      },
      'tls.json': { TLSFile: 'c:/domino/data/go.pfx', TLSPassword: 'P@$$w0rd1352', TLSType: 'pfx' },
      'product.json': {
        shutdownkey: PUBLISHED.password,
        ldap: { bindPassword: 'ldap-bind-pass', host: 'ldap.example.com' },
        oauth: { clientSecret: 'oauth-client-secret' },
        apiKey: 'api-key-123456',
        inline: { cert: PEM_KEY },
        credentials: { nested: { deeper: 'nested-token-value' } },
      },
    });
    const result = await assembleConfig(dir, {
      TLSPassword: 'env-tls-password',
      HEALTHCHECK_USER: 'platform',
      HEALTHCHECK_PASSWORD: 'platform-health-password',
    }, saltPlatformPassword);
    assert.ok(result.ok);
    const masked = maskConfig(result.loaded.merged);
    const outputs = [JSON.stringify(masked), JSON.stringify(listSources(masked, result.loaded.sources))];
    for (const output of outputs) {
      for (const secret of SECRETS) assert.ok(!output.includes(secret), `leaked: ${secret.slice(0, 12)}…`);
      // also no half of a salted secret
      for (const secret of [PUBLISHED.password, PUBLISHED.metrics]) {
        for (const part of secret.split(':')) assert.ok(!output.includes(part));
      }
    }
    assert.equal(masked.TLSPassword, MASK);
    assert.equal(masked.shutdownkey, MASK);
    assert.equal(masked.TLSFile, 'c:/domino/data/go.pfx', 'paths are not secrets');
    assert.equal((masked.ldap as JsonObject).host, 'ldap.example.com', 'non-secret neighbours stay readable');
    const health = (masked.identity as JsonObject).healthcheckAPI as JsonObject;
    assert.deepEqual(health.probe, { active: true, secret: MASK });
    assert.deepEqual(health.platform, { active: true, secret: MASK });
  });

  it('does not modify the configuration it masks', () => {
    const config: JsonObject = { TLSPassword: 'x', a: { password: 'y' } };
    maskConfig(config);
    assert.deepEqual(config, { TLSPassword: 'x', a: { password: 'y' } });
  });
});
