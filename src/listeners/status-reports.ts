import type { ThrottleStoreStatus } from '../accounts/redis-throttle-store.js';
import type { UpstreamStatus } from '../gateway/upstream-health.js';
import { type ListenerName, type Realm } from '../config/listener-table.js';
import type { PublicCredential } from '../accounts/public-credentials.js';
import { daysUntil, type CertificateSummary } from '../tls/certificate-summary.js';
import type { AcmeStatus } from '../acme/manager.js';

/** The background public-password scan: `running` until every account of the configuration in use is judged. */
export interface ScanProgress {
  state: 'running' | 'done';
  checked: number;
  total: number;
}

export interface ListenerStatus {
  name: ListenerName;
  enabled: boolean;
  up: boolean;
  /** Its certificate comes from ACME (`certificate` undefined: not obtained yet). */
  acme: boolean;
  scheme: 'http' | 'https' | undefined;
  /** Offers HTTP/2 (h2) next to HTTP/1.1; undefined while not running. */
  http2: boolean | undefined;
  address: string | undefined;
  port: number | undefined;
  certificate: CertificateSummary | undefined;
  /** SNI certificates (`certificates`), each with the names it is presented for. */
  sni: { hostnames: string[]; certificate: CertificateSummary }[];
}

/** The daemon's state at one instant: what /health, /info and the metrics report. */
export interface DaemonSnapshot {
  version: string;
  pid: number;
  startedAt: Date;
  configDir: string;
  files: string[];
  generation: number;
  loadedAt: Date;
  accounts: Record<Realm, number>;
  listeners: Record<ListenerName, ListenerStatus>;
  /** The last reload that was refused, until a later one succeeds. */
  staleConfig: { at: Date; origin: string; problems: string[] } | undefined;
  /** Accounts whose password is public (found in the background after each load). */
  publicCredentials: PublicCredential[];
  /** How far the background search for public passwords is. */
  publicPasswordScan: ScanProgress;
  warnings: string[];
  stopping: boolean;
  /** The product behind the data listener; undefined when none is configured. */
  upstream: UpstreamStatus | undefined;
  /** Certificates from ACME; undefined while `acme.domains` is empty. */
  acme: AcmeStatus | undefined;
  /** Where the login throttle counts (loginRateLimit.store), the Redis URL masked. */
  throttleStore: ThrottleStoreStatus;
}

/** A certificate expiring within this many days makes /health "degraded" (still 200). */
export const EXPIRY_WARNING_DAYS = 14;

type ComponentStatus = 'ok' | 'degraded' | 'failing';

function certificateComponent(certificate: CertificateSummary, now: number) {
  const days = daysUntil(certificate.validToMs, now);
  const status: ComponentStatus = days < EXPIRY_WARNING_DAYS ? 'degraded' : 'ok';
  return { status, subject: certificate.subject, notAfter: certificate.validTo, daysUntilExpiry: days, ...(days < 0 ? { expired: true } : {}) };
}

/**
 * GET /health. 503 ("failing") when an enabled listener is down or keepd is stopping; 200
 * otherwise, "degraded" when the configuration on disk was refused (keepd serves the last good
 * one), a certificate expires within EXPIRY_WARNING_DAYS, or an account has a public password.
 */
export function healthReport(snapshot: DaemonSnapshot, now = Date.now()): { statusCode: 200 | 503; body: object } {
  const listeners: Record<string, object> = {};
  const tls: Record<string, object> = {};
  const statuses: ComponentStatus[] = [];
  for (const listener of Object.values(snapshot.listeners)) {
    if (!listener.enabled) {
      listeners[listener.name] = { status: 'disabled' };
      continue;
    }
    const waiting = listener.up && listener.acme && !listener.certificate;
    const status: ComponentStatus = listener.up && !snapshot.stopping && !waiting ? 'ok' : 'failing';
    statuses.push(status);
    listeners[listener.name] = { status, scheme: listener.scheme, port: listener.port, ...(waiting ? { reason: 'waiting for its certificate from ACME (components.acme)' } : {}) };
    if (listener.certificate) {
      const component = certificateComponent(listener.certificate, now);
      statuses.push(component.status);
      const sni = listener.sni.map((entry) => ({ hostnames: entry.hostnames, ...certificateComponent(entry.certificate, now) }));
      statuses.push(...sni.map((entry) => entry.status));
      tls[listener.name] = sni.length > 0 ? { ...component, sni } : component;
    }
  }
  const config = snapshot.staleConfig
    ? { status: 'degraded' as const, stale: true, generation: snapshot.generation, loadedAt: snapshot.loadedAt.toISOString(), error: { at: snapshot.staleConfig.at.toISOString(), origin: snapshot.staleConfig.origin, problems: snapshot.staleConfig.problems } }
    : { status: 'ok' as const, stale: false, generation: snapshot.generation, loadedAt: snapshot.loadedAt.toISOString() };
  statuses.push(config.status);
  // Counts only: the health realm is the least trusted one; /info (management) names the accounts.
  const accounts = { status: snapshot.publicCredentials.length > 0 ? ('degraded' as const) : ('ok' as const), withPublicPassword: snapshot.publicCredentials.length, scan: snapshot.publicPasswordScan };
  statuses.push(accounts.status);
  const upstream = snapshot.upstream && upstreamComponent(snapshot.upstream);
  if (upstream) statuses.push(upstream.status);
  const acme = snapshot.acme && acmeComponent(snapshot.acme, now);
  if (acme) statuses.push(acme.status);
  const throttleStore = throttleStoreComponent(snapshot.throttleStore);
  if (throttleStore) statuses.push(throttleStore.status);
  const status: ComponentStatus = statuses.includes('failing') ? 'failing' : statuses.includes('degraded') ? 'degraded' : 'ok';
  return {
    statusCode: status === 'failing' ? 503 : 200,
    body: { status, ...(snapshot.stopping ? { stopping: true } : {}), checkedAt: new Date(now).toISOString(), components: { config, accounts, listeners, tls, ...(upstream ? { upstream } : {}), ...(acme ? { acme } : {}), ...(throttleStore ? { throttleStore } : {}) } },
  };
}

/**
 * The shared throttle store (Redis), absent with the memory store: "degraded" (still 200, still
 * ready) while keepd counts failed logins in each process instead, since each replica then allows
 * maxFailures on its own.
 */
function throttleStoreComponent(store: ThrottleStoreStatus) {
  if (store.kind === 'memory') return undefined;
  const status: ComponentStatus = store.state === 'up' ? 'ok' : 'degraded';
  return { status, store: 'redis', url: store.url, state: store.state, since: store.since.toISOString(), ...(store.error === undefined ? {} : { error: store.error }) };
}

function upstreamComponent(upstream: UpstreamStatus) {
  const status: ComponentStatus = upstream.reachable === true ? 'ok' : 'failing';
  return {
    status,
    url: upstream.url,
    reachable: upstream.reachable ?? null,
    ...(upstream.latencyMs === undefined ? {} : { latencyMs: upstream.latencyMs }),
    ...(upstream.checkedAt ? { checkedAt: upstream.checkedAt.toISOString() } : {}),
    ...(upstream.lastError === undefined ? {} : { lastError: { message: upstream.lastError, at: upstream.lastErrorAt?.toISOString() } }),
  };
}

const iso = (date: Date | undefined): string | null => date?.toISOString() ?? null;

/**
 * ACME: failing without a certificate, or with an expired one (its listeners cannot serve), degraded while attempts fail
 * (the current certificate is kept: the error and the expiry say how urgent it is), ok otherwise.
 */
function acmeComponent(acme: AcmeStatus, now: number) {
  // An expired certificate serves nobody: as bad as none.
  const status: ComponentStatus = !acme.certificate || acme.certificate.validToMs < now ? 'failing' : acme.consecutiveFailures > 0 ? 'degraded' : 'ok';
  return {
    status,
    state: acme.state,
    domains: acme.domains,
    directory: acme.directory,
    challenge: acme.challenge,
    notAfter: acme.certificate?.validTo ?? null,
    daysUntilExpiry: acme.certificate ? daysUntil(acme.certificate.validToMs, now) : null,
    renewAt: iso(acme.renewAt),
    nextAttemptAt: iso(acme.nextAttemptAt),
    lastSuccessAt: iso(acme.lastSuccessAt),
    consecutiveFailures: acme.consecutiveFailures,
    lastError: acme.lastError ? { message: acme.lastError.message, at: acme.lastError.at.toISOString() } : null,
    ...(acme.lockHolder ? { waitingFor: acme.lockHolder } : {}),
  };
}

/**
 * GET /health/ready (Kubernetes readiness): 200 while keepd can serve what it is for, its enabled
 * listeners up and the product reachable; 503 with the reasons otherwise. Certificates and the
 * configuration's state are /health's business: they do not take keepd out of a load balancer.
 */
export function readinessReport(snapshot: DaemonSnapshot, now = Date.now()): { statusCode: 200 | 503; body: object } {
  const reasons: string[] = [];
  if (snapshot.stopping) reasons.push('keepd is stopping');
  for (const listener of Object.values(snapshot.listeners)) {
    if (listener.enabled && !listener.up) reasons.push(`the ${listener.name} listener is down`);
    else if (listener.enabled && listener.acme && !listener.certificate) reasons.push(`the ${listener.name} listener waits for its certificate from ACME`);
  }
  if (snapshot.upstream && snapshot.upstream.reachable !== true) {
    reasons.push(snapshot.upstream.reachable === undefined ? `the product at ${snapshot.upstream.url} has not been reached yet` : `the product at ${snapshot.upstream.url} is unreachable: ${snapshot.upstream.lastError ?? ''}`);
  }
  const checkedAt = new Date(now).toISOString();
  return reasons.length === 0 ? { statusCode: 200, body: { status: 'ready', checkedAt } } : { statusCode: 503, body: { status: 'not ready', reasons, checkedAt } };
}

function certificateInfo(certificate: CertificateSummary, now: number) {
  return {
    subject: certificate.subject,
    issuer: certificate.issuer,
    subjectAltName: certificate.subjectAltName ?? null,
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
    notBefore: certificate.validFrom,
    notAfter: certificate.validTo,
    daysUntilExpiry: daysUntil(certificate.validToMs, now),
  };
}

/** GET /info: runtime facts for admins. Counts of accounts only, never names or secrets. */
export function infoReport(snapshot: DaemonSnapshot, now = Date.now()): object {
  return {
    version: snapshot.version,
    node: process.version,
    pid: snapshot.pid,
    startedAt: snapshot.startedAt.toISOString(),
    uptimeSeconds: Math.round((now - snapshot.startedAt.getTime()) / 1000),
    configDir: snapshot.configDir,
    configFiles: snapshot.files,
    generation: snapshot.generation,
    loadedAt: snapshot.loadedAt.toISOString(),
    staleConfig: snapshot.staleConfig
      ? { at: snapshot.staleConfig.at.toISOString(), origin: snapshot.staleConfig.origin, problems: snapshot.staleConfig.problems }
      : null,
    listeners: Object.fromEntries(
      Object.values(snapshot.listeners).map((l) => [
        l.name,
        {
          enabled: l.enabled,
          up: l.up,
          scheme: l.scheme ?? null,
          acme: l.acme,
          http2: l.http2 ?? null,
          address: l.address ?? null,
          port: l.port ?? null,
          certificate: l.certificate ? certificateInfo(l.certificate, now) : null,
          sni: l.sni.map((entry) => ({ hostnames: entry.hostnames, ...certificateInfo(entry.certificate, now) })),
        },
      ]),
    ),
    accounts: snapshot.accounts,
    publicCredentials: snapshot.publicCredentials,
    publicPasswordScan: snapshot.publicPasswordScan,
    warnings: snapshot.warnings,
    upstream: snapshot.upstream ? upstreamComponent(snapshot.upstream) : null,
    acme: snapshot.acme ? { ...acmeComponent(snapshot.acme, now), stateDir: snapshot.acme.stateDir } : null,
    throttleStore: throttleStoreComponent(snapshot.throttleStore) ?? { store: 'memory' },
  };
}
