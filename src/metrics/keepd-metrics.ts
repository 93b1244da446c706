import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { ListenerName } from '../config/listener-table.js';
import { VERSION } from '../support/package-info.js';
import { RequestMetrics } from './request-metrics.js';
import { UpstreamMetrics } from './upstream-metrics.js';
import { AcmeMetrics } from './acme-metrics.js';

/**
 * Every metric keepd exposes, created once per daemon (prom-client throws when a name is
 * registered twice, so reloads update values and never re-create metrics). Process metrics live in
 * a registry of their own so that `metrics.jvmMetricsEnabled` can switch them on and off at any time.
 */
export class KeepdMetrics {
  readonly registry = new Registry();
  readonly #processRegistry = new Registry();
  #processMetrics = true;

  /** The product's own failed-login counter, under its Prometheus name. */
  readonly unauthenticated = new Counter({
    name: 'keep_unauthenticated_request_count_total',
    help: 'Requests refused for missing or invalid credentials, by listener and reason.',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });

  /** Request count and duration per listener, route, method and status (see request-metrics.ts). */
  readonly requests = new RequestMetrics();

  /** The data listener's gateway to the product (see upstream-metrics.ts). */
  readonly upstream = new UpstreamMetrics();

  /** Certificates from ACME (see acme-metrics.ts). */
  readonly acme = new AcmeMetrics(this.registry);

  readonly listenerUp = new Gauge({
    name: 'keepd_listener_up',
    help: '1 when the listener is accepting connections, 0 when it is enabled but down.',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly certificateExpiry = new Gauge({
    name: 'keepd_tls_certificate_expiry_timestamp_seconds',
    help: 'Expiry (notAfter) of the certificate a TLS listener presents, as a Unix timestamp.',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly configGeneration = new Gauge({
    name: 'keepd_config_generation',
    help: 'Number of the configuration in use; increases with every applied reload.',
    registers: [this.registry],
  });

  readonly configStale = new Gauge({
    name: 'keepd_config_stale',
    help: '1 while the configuration on disk is not the one in use (a reload was refused, or a listener kept its old socket); 0 otherwise. GET /info says why.',
    registers: [this.registry],
  });

  readonly configLoadTime = new Gauge({
    name: 'keepd_config_last_load_timestamp_seconds',
    help: 'When the configuration in use was loaded, as a Unix timestamp.',
    registers: [this.registry],
  });

  readonly throttled = new Counter({
    name: 'keepd_login_throttled_requests_total',
    help: 'Requests answered 429 because their client address failed to log in too often.',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly throttledClients = new Gauge({
    name: 'keepd_login_throttled_clients',
    help: 'Client addresses refused right now for too many failed logins.',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly throttleStoreUp = new Gauge({
    name: 'keepd_throttle_store_up',
    help: 'With loginRateLimit.store redis: 1 while the login throttle counts in Redis, 0 while it is degraded (counting in this process). Absent with the memory store.',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });

  readonly throttleStoreErrors = new Counter({
    name: 'keepd_throttle_store_errors_total',
    help: 'Commands, probes and connections of the login throttle\'s shared store (Redis) that failed or timed out.',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });

  readonly connectionsRefused = new Counter({
    name: 'keepd_connections_refused_total',
    help: 'Connections closed on accept, by listener and reason (per_client: the address had limits.maxConnectionsPerClient open).',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });

  readonly verificationOverload = new Counter({
    name: 'keepd_password_verification_overload_total',
    help: 'Requests answered 503 because every password verification slot and queue place was taken.',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly verificationsQueued = new Gauge({
    name: 'keepd_password_verifications_queued',
    help: 'New credentials waiting for a password verification slot.',
    registers: [this.registry],
  });

  readonly publicPasswordAccounts = new Gauge({
    name: 'keepd_accounts_with_public_password',
    help: "Accounts whose password is published in the product's documentation, a well-known default or empty.",
    labelNames: ['realm'] as const,
    registers: [this.registry],
  });

  readonly publicPasswordScanPending = new Gauge({
    name: 'keepd_public_password_scan_pending_accounts',
    help: 'Accounts of the configuration in use not yet checked for a public password (the check runs in the background after each load).',
    registers: [this.registry],
  });

  readonly reloads = new Counter({
    name: 'keepd_config_reloads_total',
    help: 'Configuration reloads by outcome (applied, unchanged, rejected) and trigger (watch, signal, api).',
    labelNames: ['outcome', 'trigger'] as const,
    registers: [this.registry],
  });

  readonly buildInfo = new Gauge({
    name: 'keepd_build_info',
    help: 'Always 1; the labels say which keepd and Node.js are running.',
    labelNames: ['version', 'nodejs_version'] as const,
    registers: [this.registry],
  });

  constructor() {
    this.buildInfo.set({ version: VERSION, nodejs_version: process.version }, 1);
    collectDefaultMetrics({ register: this.#processRegistry });
    // Gauges named *_total fail `promtool check metrics`; their per-type twins (same names
    // without _total) carry the same information.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.#processRegistry.removeSingleMetric(name);
    }
  }

  setProcessMetrics(enabled: boolean): void {
    this.#processMetrics = enabled;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  markListener(name: ListenerName, up: boolean, certificateExpiryMs: number | undefined): void {
    this.listenerUp.set({ listener: name }, up ? 1 : 0);
    if (certificateExpiryMs === undefined) this.certificateExpiry.remove({ listener: name });
    else this.certificateExpiry.set({ listener: name }, Math.floor(certificateExpiryMs / 1000));
  }

  forgetListener(name: ListenerName): void {
    this.listenerUp.remove({ listener: name });
    this.certificateExpiry.remove({ listener: name });
  }

  markConfig(generation: number, loadedAt: Date): void {
    this.configGeneration.set(generation);
    this.configLoadTime.set(loadedAt.getTime() / 1000);
  }

  /** Called before each scrape, to read gauges that live elsewhere (queues, throttles). */
  beforeScrape: () => void = () => undefined;

  /** The Prometheus text exposition of everything enabled. */
  async render(): Promise<string> {
    this.beforeScrape();
    const own = `${await this.registry.metrics()}\n${this.requests.render()}\n${this.upstream.render()}`;
    return this.#processMetrics ? own + (await this.#processRegistry.metrics()) : own;
  }
}
