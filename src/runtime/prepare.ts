import { indexAccounts, unusableAccountNames, whyNameCannotLogIn, type AccountIndex } from '../accounts/accounts.js';
import { isLoopbackAddress } from '../config/addresses.js';
import type { LoadedConfig } from '../config/assemble.js';
import { perListener, type ListenerName } from '../config/listener-table.js';
import { resolveListenerSettings, type ListenerSettings } from '../config/listener-settings.js';
import { sourcesAt } from '../config/merge.js';
import { formatPath, type ConfigProblem } from '../config/problems.js';
import { sniKeyTypeWarnings, tlsWarnings } from '../tls/certificate-checks.js';
import { loadTlsMaterial, type TlsMaterial } from '../tls/load-tls-material.js';
import { resolveTlsPolicy, type TlsPolicy } from '../tls/tls-policy.js';
import type { PreparedListener } from '../listeners/prepared-listener.js';
import { trustTest, type TrustTest } from '../config/trusted-proxies.js';
import { frontUpstream, resolveUpstream, type UpstreamSettings } from '../config/upstream-settings.js';
import { frontProblems, frontWarnings, resolveFrontRoutes, type FrontRoute } from '../config/front-routes.js';
import { loadUpstreamClient } from '../gateway/upstream.js';
import { prepareSni } from './prepare-sni.js';
import { plainShutdownKeyWarning, publicShutdownKeyWarning } from '../accounts/shutdown-key.js';
import { readRegularFile } from '../config/safe-read.js';
import { acmeProblems, acmeWarnings, resolveAcme, type AcmeSettings } from '../config/acme-settings.js';
import { readStoredCertificate, type StoredCertificate } from '../acme/stored-certificate.js';
import { describeReadFailure } from '../config/read-failure.js';
import { createSecureContext } from 'node:tls';
import { networkInterfaces } from 'node:os';

/** A configuration that is ready to serve: validated, accounts indexed, TLS material loaded. */
export interface PreparedConfig {
  loaded: LoadedConfig;
  accounts: AccountIndex;
  policy: TlsPolicy;
  listeners: Record<ListenerName, PreparedListener>;
  /** The product behind the data listener; undefined: none (the data listener answers itself). */
  upstream: { settings: UpstreamSettings; ca: string | undefined } | undefined;
  /** ACME (`acme.domains` set): its settings, and the certificate its state folder holds. */
  acme: { settings: AcmeSettings; stored: StoredCertificate } | undefined;
  /** The front listener's routes, and the upstreams its URL routes name (one per origin). */
  front: { routes: FrontRoute[]; upstreams: UpstreamSettings[] };
  /** trustedProxies, compiled. */
  trust: TrustTest;
  /** Things an admin should know that do not stop keepd. */
  warnings: string[];
}

export type Preparation = { ok: true; prepared: PreparedConfig } | { ok: false; problems: ConfigProblem[] };

function listNames(names: string[]): string {
  return names.length === 1 ? `the ${names[0] ?? ''} listener` : `the ${names.slice(0, -1).join(', ')} and ${names[names.length - 1] ?? ''} listeners`;
}

function sourceLabel(loaded: LoadedConfig, path: string[]): string {
  const found = sourcesAt(loaded.sources, path);
  return found.length > 0 ? found.join(', ') : 'default';
}

/** `passthrough`: the data listener in front of the product needs no account of keepd's (the product authenticates). */
function accountWarnings(settings: ListenerSettings[], accounts: AccountIndex, passthrough: boolean): string[] {
  return settings
    .filter((s) => s.enabled && s.realm !== undefined && !(passthrough && s.name === 'data') && [...(accounts.get(s.realm)?.values() ?? [])].every((account) => !account.active || whyNameCannotLogIn(account.name) !== undefined))
    .map((s) => `no active account in identity.${s.realm}: nobody can log in to the ${s.name} listener`);
}

/** The product's own advice: management reachable from localhost only. */
function managementExposure(management: ListenerSettings): string[] {
  if (!management.enabled || (management.host !== undefined && isLoopbackAddress(management.host))) return [];
  const where = management.host === undefined ? 'all interfaces' : management.host;
  return [`the management listener accepts connections on ${where}: the product recommends localhost only; set listeners.management.HOST to "127.0.0.1" (or HOST, for all listeners)`];
}

const CA_FILE_LIMITS = { maxBytes: 1024 * 1024, deadlineMs: 5000 };

/** A PEM bundle of CA certificates, read and checked now: a bad file is a problem, not a failed request later. */
async function readCaBundle(file: string, at: string[], what: string, loaded: LoadedConfig, problems: ConfigProblem[]): Promise<string | undefined> {
  const read = await readRegularFile(file, CA_FILE_LIMITS);
  if (!read.ok) {
    problems.push({ source: sourceLabel(loaded, at), path: formatPath(at), message: `${what}: ${describeReadFailure(read.failure)}` });
    return undefined;
  }
  const ca = read.bytes.toString('utf8');
  try {
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no certificate in it');
    createSecureContext({ ca });
  } catch (error) {
    problems.push({ source: sourceLabel(loaded, at), path: formatPath(at), message: `${file} is not a PEM file of CA certificates (${error instanceof Error ? error.message : String(error)})` });
    return undefined;
  }
  return ca;
}

/** The upstream's settings and CA bundle. */
async function prepareUpstream(loaded: LoadedConfig, problems: ConfigProblem[]): Promise<PreparedConfig['upstream']> {
  const settings = resolveUpstream(loaded.config, loaded.configDir);
  if (settings) await loadUpstreamClient();
  if (!settings?.caFile) return settings && { settings, ca: undefined };
  const ca = await readCaBundle(settings.caFile, ['listeners', 'data', 'upstream', 'caFile'], "the upstream's CA file", loaded, problems);
  return ca === undefined ? undefined : { settings, ca };
}

/** ACME: its rules, its CA file, and the certificate the state folder holds (files only, never the CA). */
async function prepareAcme(loaded: LoadedConfig, listeners: Record<ListenerName, ListenerSettings>, policy: TlsPolicy, problems: ConfigProblem[], notes: string[]): Promise<PreparedConfig['acme']> {
  const settings = resolveAcme(loaded.config, loaded.configDir, Object.values(listeners));
  for (const problem of acmeProblems(loaded.config, settings, listeners)) problems.push({ source: sourceLabel(loaded, problem.path.map(String)), path: formatPath(problem.path), message: problem.message });
  if (!settings) return undefined;
  if (settings.caFile) await readCaBundle(settings.caFile, ['acme', 'caFile'], "the ACME server's CA file", loaded, problems);
  const stored = await readStoredCertificate(settings, policy);
  const lifetimeDays = stored.state === 'usable' ? (stored.material.certificate.validToMs - Date.parse(stored.material.certificate.validFrom)) / 86_400_000 : undefined;
  if (settings.renewBeforeDays !== undefined && lifetimeDays !== undefined && settings.renewBeforeDays >= lifetimeDays) {
    // Not a problem (it is how a renewal is forced), but a CA's rate limits will stop it: say so.
    notes.push(`acme.renewBeforeDays ${settings.renewBeforeDays} is not shorter than the certificate's lifetime (${Math.round(lifetimeDays)} days): keepd renews it every hour; Let's Encrypt allows 5 certificates for the same names a week. Use a third of the lifetime or less`);
  }
  return { settings, stored };
}

/** The product's lockout is 5 failures per user: a throttle that allows more lets one address lock users out. */
const PRODUCT_LOCKOUT_FAILURES = 5;

function gatewayWarnings(loaded: LoadedConfig, upstream: UpstreamSettings | undefined): string[] {
  if (!upstream) return [];
  const out: string[] = [];
  const { loginRateLimit } = loaded.config;
  if (upstream.auth === 'passthrough' && (!loginRateLimit.enabled || loginRateLimit.maxFailures >= PRODUCT_LOCKOUT_FAILURES)) {
    const now = loginRateLimit.enabled ? `allows ${loginRateLimit.maxFailures} failed logins per address` : 'is off';
    out.push(`loginRateLimit ${now}: one address can fail ${PRODUCT_LOCKOUT_FAILURES} logins for a user and lock that user out of the product for 60 minutes; set loginRateLimit.maxFailures to ${PRODUCT_LOCKOUT_FAILURES - 1} or less`);
  }
  const host = new URL(upstream.origin).hostname.replace(/^\[|\]$/g, '');
  if (upstream.origin.startsWith('http:') && !isLoopbackAddress(host)) {
    out.push(`listeners.data.upstream.url is plain http to ${host}: passwords and tokens cross the network to the product in clear; use https (and caFile), or run keepd on the product's host`);
  }
  return out;
}

/**
 * Everything that can fail before serving, checked up front: TLS policy, every listener's TLS
 * material (each distinct keystore is read once). Used by `keepd check`, start and every reload.
 */
export async function prepareConfig(loaded: LoadedConfig): Promise<Preparation> {
  const { config } = loaded;
  const problems: ConfigProblem[] = [];
  const policyResult = resolveTlsPolicy(config, (path) => sourceLabel(loaded, path));
  problems.push(...policyResult.problems);
  const settingsByName = resolveListenerSettings(config, loaded.configDir);
  const settings = Object.values(settingsByName);
  const policy = policyResult.policy;
  if (!policy) return { ok: false, problems };

  // Group listeners by identical TLS source, so a broken keystore is reported once.
  const groups = new Map<string, ListenerSettings[]>();
  for (const listener of settings) {
    if (!listener.enabled || !listener.tls) continue;
    const key = JSON.stringify(listener.tls);
    groups.set(key, [...(groups.get(key) ?? []), listener]);
  }
  const materials = new Map<string, TlsMaterial>();
  await Promise.all(
    [...groups].map(async ([key, members]) => {
      const first = members[0];
      if (!first?.tls) return;
      const result = await loadTlsMaterial(first.tls, policy);
      if (result.ok) {
        materials.set(key, result.material);
        return;
      }
      const at = [...first.tlsKeysAt, 'TLSFile'];
      problems.push({ source: sourceLabel(loaded, at), path: formatPath(at), message: `TLS of ${listNames(members.map((m) => m.name))}: ${result.message}` });
    }),
  );
  const sniNotes = new Set<string>();
  const sni = await prepareSni(settings, policy, (path) => sourceLabel(loaded, path.map(String)), problems, sniNotes);
  const upstream = await prepareUpstream(loaded, problems);
  const acmeNotes: string[] = [];
  const acme = await prepareAcme(loaded, settingsByName, policy, problems, acmeNotes);
  const acmeMaterial = acme?.stored.state === 'usable' ? acme.stored.material : undefined;
  const routes = resolveFrontRoutes(config);
  const local = Object.values(networkInterfaces()).flatMap((addresses) => (addresses ?? []).map((address) => address.address));
  for (const note of frontProblems(settingsByName.front, routes, settingsByName, local)) problems.push({ source: sourceLabel(loaded, note.path.map(String)), path: formatPath(note.path), message: note.message });
  if (problems.length > 0) return { ok: false, problems };
  const origins = new Set(settingsByName.front.enabled ? routes.flatMap((route) => (route.target.kind === 'upstream' ? [route.target.origin] : [])) : []);
  if (origins.size > 0) await loadUpstreamClient();

  const listeners = perListener((name): PreparedListener => {
    const own = settingsByName[name];
    const files = own.enabled && own.tls ? materials.get(JSON.stringify(own.tls)) : undefined;
    return { settings: own, tls: own.enabled && own.acme ? acmeMaterial : files, sni: sni.get(name) ?? [] };
  });
  const accounts = indexAccounts(config.identity);
  const sniWarnings = [...sni.values()].flat().flatMap((entry) => (entry.material.warnings ?? []).map((text) => `TLS certificate for ${entry.hostnames.join(', ')}: ${text}`));
  const warnings = [...policy.warnings, ...tlsWarnings(listeners), ...sniKeyTypeWarnings(listeners), ...new Set(sniWarnings), ...sniNotes, ...accountWarnings(settings, accounts, upstream?.settings.auth === 'passthrough'), ...unusableAccountNames(accounts), ...managementExposure(settingsByName.management), ...gatewayWarnings(loaded, upstream?.settings), ...frontWarnings(settingsByName.front, routes), ...acmeWarnings(acme?.settings, settingsByName, loaded.configDir), ...acmeNotes, ...(acme?.stored.state === 'unusable' ? [`ACME: ${acme.stored.reason}; keepd orders a new one`] : []), ...[plainShutdownKeyWarning(config.shutdownkey), await publicShutdownKeyWarning(config.shutdownkey)].flatMap((w) => w ?? [])];
  const front = { routes, upstreams: [...origins].map((origin) => frontUpstream(origin, config)) };
  return { ok: true, prepared: { loaded, accounts, policy, listeners, upstream, acme, front, trust: trustTest(config.trustedProxies), warnings } };
}
