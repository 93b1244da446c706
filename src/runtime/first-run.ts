import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { createSecret } from '../accounts/secret.js';
import { isLoopbackAddress, isWildcardAddress } from '../config/addresses.js';
import { LISTENER_NAMES, LISTENERS, REALM_LISTENERS, type ListenerName, type RealmListener, REALMS, type Realm } from '../config/listener-table.js';
import type { KeepConfig } from '../config/schema.js';

/** Files the first run writes into the configuration directory (git-ignored there). */
export const FIRST_RUN_FILES = {
  config: '00-keepd-first-run.json',
  key: 'keepd-first-run.key.pem',
  cert: 'keepd-first-run.cert.pem',
} as const;

const FIRST_RUN_USERS: Record<RealmListener, string> = {
  data: 'keepd-data',
  health: 'keepd-health',
  management: 'keepd-admin',
  metrics: 'keepd-metrics',
};

export interface FirstRunAccount {
  listener: RealmListener;
  realm: Realm;
  user: string;
  password: string;
}

export interface FirstRun {
  accounts: FirstRunAccount[];
  configFile: string;
  /** undefined: every listener takes its certificate from ACME; no self-signed one was made. */
  certFile: string | undefined;
  /** The names of the ACME certificate, when ACME is on. */
  acmeDomains: string[];
}

/**
 * Which listeners a first run gives its self-signed certificate: `top-level` (all but those named
 * in acme.listeners, which ignore the top-level keys), the listed ones (beside the product, in
 * their blocks), or none when every listener takes its certificate from ACME (acme.domains
 * without acme.listeners: a certificate written now would turn ACME off).
 */
export function firstRunTls(acme: Pick<KeepConfig['acme'], 'domains' | 'listeners'>, beside: boolean): 'top-level' | RealmListener[] {
  if (acme.domains.length > 0 && acme.listeners === undefined) return [];
  const named = acme.domains.length > 0 ? (acme.listeners ?? []) : [];
  return beside ? REALM_LISTENERS.filter((name) => !named.includes(name)) : 'top-level';
}

/** In the first-run file: whether its passwords were ever printed. false means nobody knows them. */
const SHOWN_KEY = '_passwordsShown';

const TEMPORARY = /^\.(?:00-keepd-first-run\.json|keepd-first-run\.(?:key|cert)\.pem)\.\d+\.tmp$/;

/** Temporary files a first run killed mid-write left behind (they would stay for good). */
export async function removeFirstRunLeftovers(configDir: string): Promise<string[]> {
  const names = await readdir(configDir).catch(() => []);
  const leftovers = names.filter((name) => TEMPORARY.test(name));
  await Promise.all(leftovers.map((name) => unlink(path.join(configDir, name)).catch(() => undefined)));
  return leftovers;
}

/** Records that the passwords were printed (the banner is out): later starts say nothing more. */
export async function markPasswordsShown(firstRun: FirstRun): Promise<void> {
  const text = await readFile(firstRun.configFile, 'utf8');
  const config = JSON.parse(text) as Record<string, unknown>;
  if (config[SHOWN_KEY] !== false) return;
  config[SHOWN_KEY] = true;
  await writeAtomically(firstRun.configFile, `${JSON.stringify(config, null, 2)}\n`, 0o600);
}

/**
 * The first-run accounts exist but their passwords were never printed (the first start could
 * not bind, or was killed before it printed): nobody can log in with them. A sentence saying so,
 * with the command that starts over, or undefined.
 */
export async function unshownFirstRun(configDir: string): Promise<string | undefined> {
  const file = path.join(configDir, FIRST_RUN_FILES.config);
  let config: unknown;
  try {
    config = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined; // no first run here (or a broken file, which the configuration reports)
  }
  if (typeof config !== 'object' || config === null || !(SHOWN_KEY in config) || config[SHOWN_KEY] !== false) return undefined;
  const files = [FIRST_RUN_FILES.config, FIRST_RUN_FILES.key, FIRST_RUN_FILES.cert].map((name) => `'${path.join(configDir, name)}'`).join(' ');
  return `the first-run accounts in ${file} were created, but their passwords were never shown (an earlier start stopped before printing them), so nobody can log in with them. To get new ones, run: rm ${files} and start keepd again; or give the accounts passwords of your own with keepd salt`;
}

/**
 * keepd in front of the product (listeners.data.upstream.url), sharing its keepconfig.d: the
 * product reads the top-level TLS keys and identity.* too, so a first run must not write them.
 */
export function besideProduct(config: KeepConfig): boolean {
  return config.listeners.data.upstream.url !== undefined;
}

/**
 * A fresh install that would otherwise serve nothing securely: no TLS anywhere, and no account in
 * any realm (beside the product, no TLS is enough: keepd writes no accounts there).
 */
export function needsFirstRun(config: KeepConfig): boolean {
  const noAccounts = REALMS.every((realm) => Object.keys(config.identity[realm]).length === 0);
  const blocks = LISTENER_NAMES.map((name) => config.listeners[name]);
  const noTls = config.TLSFile === undefined && config.TLSType === undefined && blocks.every((b) => b?.TLSFile === undefined && b?.TLSType === undefined);
  if (!noTls) return false;
  // Every listener's certificate from ACME: only accounts are missing (none to write beside the product).
  if (firstRunTls(config.acme, false) !== 'top-level') return noAccounts && !besideProduct(config);
  return noAccounts || besideProduct(config);
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
 * passwords exist in memory until they are printed once. Beside the product, the certificate goes
 * into keepd's own `listeners.<name>` blocks, which the product does not read, and no account is
 * written (the product would pick it up).
 */
export async function generateFirstRun(configDir: string, options: { besideProduct?: boolean; hostname?: string; acme?: Pick<KeepConfig['acme'], 'domains' | 'listeners'> } = {}): Promise<FirstRun> {
  const beside = options.besideProduct === true;
  const acme = options.acme ?? { domains: [], listeners: undefined };
  const tlsFor = firstRunTls(acme, beside);
  const accounts = beside
    ? []
    : REALM_LISTENERS.map((listener): FirstRunAccount => ({
        listener,
        realm: LISTENERS[listener].realm,
        user: FIRST_RUN_USERS[listener],
        password: randomBytes(18).toString('base64url'),
      }));
  const identity: Record<string, Record<string, { active: boolean; secret: string }>> = {};
  for (const account of accounts) {
    identity[account.realm] = { [account.user]: { active: true, secret: await createSecret(account.password) } };
  }
  const tls = { TLSType: 'pem', TLSFile: FIRST_RUN_FILES.key, PEMCert: FIRST_RUN_FILES.cert };
  const config = {
    _comment: 'Written by keepd on its first run. Replace with your own certificate and accounts, then delete this file and the keepd-first-run.* files.',
    [SHOWN_KEY]: beside,
    ...(tlsFor === 'top-level' ? tls : { listeners: Object.fromEntries(tlsFor.map((name) => [name, tls])) }),
    ...(beside ? {} : { identity }),
  };
  const configFile = path.join(configDir, FIRST_RUN_FILES.config);
  let certFile: string | undefined;
  if (tlsFor === 'top-level' || tlsFor.length > 0) {
    const { key, cert } = await selfSignedCertificate(options.hostname ?? osHostname());
    certFile = path.join(configDir, FIRST_RUN_FILES.cert);
    await writeAtomically(path.join(configDir, FIRST_RUN_FILES.key), key, 0o600);
    await writeAtomically(certFile, cert, 0o644);
  }
  await writeAtomically(configFile, `${JSON.stringify(config, null, 2)}\n`, 0o600);
  return { accounts, configFile, certFile, acmeDomains: acme.domains };
}

function urlHost(address: string): string {
  return isWildcardAddress(address) || isLoopbackAddress(address) ? 'localhost' : address.includes(':') ? `[${address}]` : address;
}

/**
 * The once-only message with the passwords and ready-to-paste curl commands (none when keepd
 * could not start: the accounts stay for the next start, and the passwords are shown now all the same).
 */
export function firstRunBanner(firstRun: FirstRun, endpoints: Partial<Record<ListenerName, { address: string; port: number }>>): string {
  if (firstRun.accounts.length === 0) {
    return [
      '',
      'keepd first run beside the product (listeners.data.upstream.url is set): no TLS was configured,',
      firstRun.certFile === undefined
        ? `and keepd's listeners take their certificate from ACME (${firstRun.acmeDomains.join(', ')}).`
        : `so keepd created a self-signed certificate (${firstRun.certFile}) for its own listeners, in\nlisteners.<name> blocks of ${firstRun.configFile}, which the product does not read.`,
      'It created no accounts: the product reads identity.* too. Give the health, management and',
      'metrics listeners accounts with `keepd salt` (docs/gateway.md#beside-the-product).',
      '',
    ].join('\n');
  }
  const lines = [
    '',
    firstRun.certFile === undefined
      ? `keepd first run: no accounts were configured, so keepd created one per listener (their certificate\ncomes from ACME, for ${firstRun.acmeDomains.join(', ')}). The passwords are shown now and never again;`
      : 'keepd first run: no accounts and no TLS were configured, so keepd created a self-signed\ncertificate and one account per listener. The passwords are shown now and never again;',
    `only their salted secrets are stored, in ${firstRun.configFile}.`,
    '',
  ];
  for (const account of firstRun.accounts) lines.push(`  ${account.listener.padEnd(11)} ${account.user.padEnd(14)} ${account.password}`);
  if (Object.keys(endpoints).length === 0) {
    lines.push('', 'keepd could not start (see below); the accounts are kept and work once it does.', '');
    return `${lines.join('\n')}\n`;
  }
  lines.push('', 'Try them:');
  for (const account of firstRun.accounts) {
    const endpoint = endpoints[account.listener];
    if (!endpoint) continue;
    // With ACME, the certificate names the domains (and arrives once ordered: GET /health, components.acme).
    const cacert = firstRun.certFile === undefined ? '' : `--cacert '${firstRun.certFile}' `;
    const host = firstRun.certFile === undefined ? (firstRun.acmeDomains[0] ?? 'localhost') : urlHost(endpoint.address);
    lines.push(`  curl ${cacert}-u '${account.user}:${account.password}' https://${host}:${endpoint.port}${LISTENERS[account.listener].probe}`);
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}
