import path from 'node:path';
import { createSecret } from '../../src/accounts/secret.js';
import { FIXTURES } from './paths.js';

const tls = (name: string): string => path.join(FIXTURES, 'tls', name);

/** TLS settings for each fixture, as an admin would write them. */
export const TLS_CONFIGS = {
  pem: { TLSType: 'pem', TLSFile: tls('server.key.pem'), PEMCert: tls('server.chain.pem') },
  'pem-encrypted': { TLSType: 'pem', TLSFile: tls('server.key.encrypted.pem'), PEMCert: tls('server.chain.pem'), TLSPassword: 'changeit' },
  pfx: { TLSType: 'pfx', TLSFile: tls('server.pfx'), TLSPassword: 'changeit' },
  'pfx-no-password': { TLSType: 'pfx', TLSFile: tls('server-nopass.pfx'), TLSPassword: '' },
  jks: { TLSType: 'jks', TLSFile: tls('server.jks'), TLSPassword: 'changeit' },
  'jks-pkcs12': { TLSType: 'jks', TLSFile: tls('server-pkcs12.jks'), TLSPassword: 'changeit' },
} as const;

export const tlsFixture = tls;

/**
 * Every listener on a free loopback port. The tests make many failed logins from 127.0.0.1 on
 * purpose: the login throttle is exempted here, and tested on its own (hardening-guessing.test.ts, login-throttle.test.ts).
 */
export const TEST_BASE = { HOST: '127.0.0.1', PORT: 0, HEALTHCHECKPORT: 0, MANAGMENTPORT: 0, METRICSPORT: 0, loginRateLimit: { exemptLoopback: true } };

/** Test accounts: [user, password] per realm, plus an inactive one in each realm. */
export const USERS = {
  health: ['probe', 'probe-pw-1'],
  management: ['Doctor Notes', 'mgmt-pw-2'],
  metrics: ['prometheus', 'metrics-pw-3'],
  data: ['John Doe', 'data-pw-4'],
} as const;
export const INACTIVE_PASSWORD = 'inactive-pw-5';

let cached: object | undefined;

/** functionalUsers.json for USERS, salted once per test process. */
export async function functionalUsers(): Promise<object> {
  if (cached) return cached;
  const inactive = await createSecret(INACTIVE_PASSWORD);
  const account = async ([name, password]: readonly [string, string], extra: object = {}) => ({
    [name]: { active: true, secret: await createSecret(password), ...extra },
    retired: { active: false, secret: inactive },
  });
  cached = {
    identity: {
      healthcheckAPI: await account(USERS.health),
      managementAPI: await account(USERS.management),
      metricsAPI: await account(USERS.metrics),
      singleDbModeUsers: await account(USERS.data, { CN: 'CN=John Doe/O=Mauraders' }),
    },
  };
  return cached;
}
