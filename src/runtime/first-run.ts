import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { createSecret } from '../accounts/secret.js';
import { isLoopbackAddress, isWildcardAddress } from '../config/addresses.js';
import { LISTENER_NAMES, LISTENERS, type ListenerName, REALMS, type Realm } from '../config/listener-table.js';
import type { KeepConfig } from '../config/schema.js';

/** Files the first run writes into the configuration directory (git-ignored there). */
export const FIRST_RUN_FILES = {
  config: '00-keepd-first-run.json',
  key: 'keepd-first-run.key.pem',
  cert: 'keepd-first-run.cert.pem',
} as const;

const FIRST_RUN_USERS: Record<ListenerName, string> = {
  data: 'keepd-data',
  health: 'keepd-health',
  management: 'keepd-admin',
  metrics: 'keepd-metrics',
};

export interface FirstRunAccount {
  listener: ListenerName;
  realm: Realm;
  user: string;
  password: string;
}

export interface FirstRun {
  accounts: FirstRunAccount[];
  configFile: string;
  certFile: string;
}

/** No account in any realm and no TLS anywhere: a fresh install that would otherwise serve nothing securely. */
export function needsFirstRun(config: KeepConfig): boolean {
  const noAccounts = REALMS.every((realm) => Object.keys(config.identity[realm]).length === 0);
  const blocks = LISTENER_NAMES.map((name) => config.listeners?.[name]);
  const noTls = config.TLSFile === undefined && config.TLSType === undefined && blocks.every((b) => b?.TLSFile === undefined && b?.TLSType === undefined);
  return noAccounts && noTls;
}

/** Write-then-rename, so a crash never leaves a half-written file for the next start to trip on. */
async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await writeFile(temporary, content, { mode });
  await rename(temporary, file);
}

async function selfSignedCertificate(hostname: string): Promise<{ key: string; cert: string }> {
  const names = [...new Set(['localhost', hostname])];
  // Loaded only on a first run: it is the heaviest dependency and most starts never need it.
  const { default: selfsigned } = await import('selfsigned');
  const pems = await selfsigned.generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    curve: 'P-256',
    notAfterDate: new Date(Date.now() + 397 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...names.map((value) => ({ type: 2 as const, value })), { type: 7 as const, ip: '127.0.0.1' }, { type: 7 as const, ip: '::1' }],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/**
 * The secure embedded default: a self-signed certificate for localhost, 127.0.0.1, ::1 and this
 * host, and one account per realm with a random password. Only salted secrets are written; the
 * passwords exist in memory until they are printed once.
 */
export async function generateFirstRun(configDir: string, hostname = osHostname()): Promise<FirstRun> {
  const { key, cert } = await selfSignedCertificate(hostname);
  const accounts = LISTENER_NAMES.map((listener): FirstRunAccount => ({
    listener,
    realm: LISTENERS[listener].realm,
    user: FIRST_RUN_USERS[listener],
    password: randomBytes(18).toString('base64url'),
  }));
  const identity: Record<string, Record<string, { active: boolean; secret: string }>> = {};
  for (const account of accounts) {
    identity[account.realm] = { [account.user]: { active: true, secret: await createSecret(account.password) } };
  }
  const config = {
    _comment: 'Written by keepd on its first run. Replace with your own certificate and accounts, then delete this file and the keepd-first-run.* files.',
    TLSType: 'pem',
    TLSFile: FIRST_RUN_FILES.key,
    PEMCert: FIRST_RUN_FILES.cert,
    identity,
  };
  const configFile = path.join(configDir, FIRST_RUN_FILES.config);
  const certFile = path.join(configDir, FIRST_RUN_FILES.cert);
  await writeAtomically(path.join(configDir, FIRST_RUN_FILES.key), key, 0o600);
  await writeAtomically(certFile, cert, 0o644);
  await writeAtomically(configFile, `${JSON.stringify(config, null, 2)}\n`, 0o600);
  return { accounts, configFile, certFile };
}



function urlHost(address: string): string {
  return isWildcardAddress(address) || isLoopbackAddress(address) ? 'localhost' : address.includes(':') ? `[${address}]` : address;
}

/** The once-only message with the passwords and ready-to-paste curl commands. */
export function firstRunBanner(firstRun: FirstRun, endpoints: Partial<Record<ListenerName, { address: string; port: number }>>): string {
  const lines = [
    '',
    'keepd first run: no accounts and no TLS were configured, so keepd created a self-signed',
    'certificate and one account per listener. The passwords are shown now and never again;',
    `only their salted secrets are stored, in ${firstRun.configFile}.`,
    '',
  ];
  for (const account of firstRun.accounts) lines.push(`  ${account.listener.padEnd(11)} ${account.user.padEnd(14)} ${account.password}`);
  lines.push('', 'Try them:');
  for (const account of firstRun.accounts) {
    const endpoint = endpoints[account.listener];
    if (!endpoint) continue;
    lines.push(`  curl --cacert '${firstRun.certFile}' -u '${account.user}:${account.password}' https://${urlHost(endpoint.address)}:${endpoint.port}${LISTENERS[account.listener].probe}`);
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}
