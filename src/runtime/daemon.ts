import type { Logger } from 'pino';
import { countAccounts } from '../accounts/accounts.js';
import { VerificationLimiter } from '../accounts/verification-limiter.js';
import type { Environment } from '../config/env-layer.js';
import type { ListenerSettings } from '../config/listener-settings.js';
import type { TlsMaterial } from '../tls/load-tls-material.js';
import { REALM_LISTENERS, perListener, type ListenerName, type RealmListener } from '../config/listener-table.js';
import { formatProblem } from '../config/problems.js';
import type { AuthGate } from '../auth/authenticate.js';
import { listenerParts, type ListenerServices } from '../listeners/index.js';
import type { FrontRoute } from '../config/front-routes.js';
import { FrontUpstreams } from '../gateway/front-upstreams.js';
import type { ListenerEntry } from '../listeners/front-door.js';
import { Gateway } from '../gateway/gateway.js';
import type { ReloadOutcome, ReloadRequest } from '../listeners/reload-outcome.js';
import type { DaemonSnapshot } from '../listeners/status-reports.js';
import { KeepdMetrics } from '../metrics/keepd-metrics.js';
import { VERSION } from '../support/package-info.js';
import { yieldToEventLoop } from '../support/yield.js';
import { createAuthGates } from './auth-gates.js';
import { Watching } from './config-watcher.js';
import { ListenerSet } from './listener-set.js';
import type { PreparedConfig } from './prepare.js';
import { PublicPasswordScan } from './public-password-scan.js';
import { decide, loadConfiguration, refusals as reloadRefusals, rejected, withNewerAcmeCertificate, type Snapshot } from './reload.js';
import { StaleConfig } from './stale-config.js';
import { StartupError } from './startup-error.js';
import { AcmeChallenges } from '../acme/challenges.js';
import { AcmeManager } from '../acme/manager.js';
import { ThrottleStoreSwitch } from './throttle-store.js';

export interface DaemonOptions {
  configDir: string;
  env: Environment;
  logger: Logger;
  /** `--strict`: refuse accounts with public example passwords (as does `"strict": true`). */
  strict?: boolean;
}

/** How long a reload's strict check for public passwords may take; the rest waits for the next reload. */
const STRICT_CHECK_BUDGET_MS = 10_000;

const settingsOf = (prepared: PreparedConfig): ListenerSettings[] => Object.values(prepared.listeners).map((l) => l.settings);

/**
 * The running keepd: the active configuration snapshot, the listeners, the watcher, start and
 * stop. Reloads (reload.ts decides, listener-set.ts binds) are serialized and swap the snapshot
 * in with one assignment; requests read it live.
 */
export class Daemon implements ListenerServices {
  readonly metrics = new KeepdMetrics();
  readonly startedAt = new Date();
  readonly limiter = new VerificationLimiter(() => this.#active.prepared.loaded.config.passwordVerification);
  readonly #gates: Record<RealmListener, AuthGate>;
  /** The login throttle's shared store (loginRateLimit.store), replaced by a reload that changes it. */
  readonly throttleStore: ThrottleStoreSwitch;
  /** The data listener's gateway to the product (listeners.data.upstream). */
  readonly gateway: Gateway;
  /** The upstreams of the front listener's URL routes. */
  readonly frontUpstreams: FrontUpstreams;
  readonly #options: DaemonOptions;
  readonly #log: Logger;
  readonly #listeners: ListenerSet;
  readonly #scan: PublicPasswordScan;
  readonly #watching: Watching;
  readonly #challenges = new AcmeChallenges();
  readonly #acme: AcmeManager;
  #active: Snapshot;
  readonly #stale: StaleConfig;
  /** Bumped on every change /health reports (the key of its cached answer). */
  #stateVersion = 0;
  #reloads: Promise<unknown> = Promise.resolve();
  #stopping: Promise<void> | undefined;
  readonly #stopSignal = new AbortController();
  #resolveStopped: () => void = () => undefined;
  readonly stopped = new Promise<void>((resolve) => {
    this.#resolveStopped = resolve;
  });

  private constructor(prepared: PreparedConfig, options: DaemonOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#stale = new StaleConfig(this.#log);
    this.#active = { prepared, generation: 1, loadedAt: new Date() };
    // Something /health reports changed: its cached answer is stale.
    const changed = (): number => this.#stateVersion++;
    this.throttleStore = new ThrottleStoreSwitch({ log: this.#log, metrics: this.metrics, changed });
    this.#gates = createAuthGates(() => this.#active.prepared, this.limiter, this.metrics, this.throttleStore.current);
    this.gateway = new Gateway({ gate: this.#gates.data, metrics: this.metrics.upstream, log: this.#log, record: (method, status, seconds) => this.metrics.requests.record('data', '/*', method, status, seconds), changed });
    this.frontUpstreams = new FrontUpstreams({ gate: this.#gates.data, log: this.#log, record: (method, status, seconds) => this.metrics.requests.record('front', '/*', method, status, seconds) });
    const acmeChallenge = (name: string) => this.#challenges.alpn(name);
    this.#listeners = new ListenerSet({ log: this.#log, metrics: this.metrics, parts: (name) => listenerParts(name, this), trust: () => this.#active.prepared.trust, changed, acmeChallenge, acmeMaterial: () => this.#acme.material() });
    const install = (material: TlsMaterial): void => this.#listeners.installAcme(material, this.#active.prepared.policy);
    this.#acme = new AcmeManager({ log: this.#log, challenges: this.#challenges, install, changed, failed: () => this.metrics.acme.failures.inc() });
    this.#scan = new PublicPasswordScan({ log: this.#log, metrics: this.metrics, changed });
    this.#watching = new Watching({ configDir: options.configDir, log: this.#log, onChange: (reason) => void this.reload({ trigger: 'watch', origin: `watch: ${reason}` }) });
    this.metrics.beforeScrape = () => {
      this.metrics.verificationsQueued.set(this.limiter.queued);
      const scan = this.#scan.progress;
      this.metrics.publicPasswordScanPending.set(scan.state === 'done' ? 0 : scan.total - scan.checked);
      for (const name of REALM_LISTENERS) this.metrics.throttledClients.set({ listener: name }, this.#gates[name].throttle.blockedClients());
      this.metrics.upstream.probed(this.gateway.status);
      this.metrics.configStale.set(this.#stale.state === undefined ? 0 : 1);
      this.metrics.acme.observe(this.#acme.status());
    };
  }

  /** Starts every enabled listener, or none: on any failure the ones already bound are closed again. */
  static async start(prepared: PreparedConfig, options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(prepared, options);
    // Reloads (the watcher starts below) wait until the start is over.
    const start = daemon.#start(prepared);
    daemon.#reloads = start.catch(() => undefined);
    await start;
    return daemon;
  }

  async #start(prepared: PreparedConfig): Promise<void> {
    this.#adopt(this.#active);
    for (const warning of prepared.warnings) this.#log.warn(warning);
    // Watching starts before the listeners bind: a change made once they answer is never missed.
    await this.#watching.follow(settingsOf(prepared), prepared.loaded.config.watch, true);
    const failures = await this.#listeners.startAll(prepared);
    if (failures.length > 0) {
      await this.#watching.close();
      throw new StartupError(failures);
    }
    this.#applyAcme(prepared); // once the listeners answer tls-alpn-01
  }

  /** The snapshot's settings into what keeps state across reloads (logger, metrics), and its scan. */
  #adopt(snapshot: Snapshot): void {
    this.#active = snapshot;
    const { config } = snapshot.prepared.loaded;
    this.#log.level = config.LOG_LEVEL;
    this.#listeners.setLogLevel(config.LOG_LEVEL);
    this.metrics.setProcessMetrics(config.processMetricsEnabled ?? config.metrics.jvmMetricsEnabled);
    this.metrics.markConfig(snapshot.generation, snapshot.loadedAt);
    this.#scan.scan(snapshot.prepared.accounts);
    this.gateway.apply(snapshot.prepared.upstream ?? { settings: undefined, ca: undefined });
    this.frontUpstreams.apply(snapshot.prepared.front.upstreams);
    this.throttleStore.apply(config.loginRateLimit.store);
    this.#stateVersion++;
  }

  // ListenerServices: read live by every request.

  auth(listener: RealmListener): AuthGate {
    return this.#gates[listener];
  }

  config(): PreparedConfig['loaded'] {
    return this.#active.prepared.loaded;
  }

  listener(name: ListenerName): { address: string; port: number } | undefined {
    return this.#listeners.get(name);
  }

  /** The front listener's routes in use, and the listeners they name. */
  readonly frontRoutes = (): readonly FrontRoute[] => this.#active.prepared.front.routes;
  readonly entry = (name: RealmListener): ListenerEntry | undefined => this.#listeners.get(name)?.entry;

  stateVersion(): number {
    return this.#stateVersion;
  }

  snapshot(): DaemonSnapshot {
    const { prepared, generation, loadedAt } = this.#active;
    return {
      version: VERSION,
      pid: process.pid,
      startedAt: this.startedAt,
      configDir: prepared.loaded.configDir,
      files: prepared.loaded.files,
      generation,
      loadedAt,
      accounts: countAccounts(prepared.accounts),
      listeners: perListener((name) => this.#listeners.status(name, prepared.listeners[name].settings.enabled)),
      staleConfig: this.#stale.state,
      upstream: this.gateway.status,
      acme: this.#acme.status(),
      throttleStore: this.throttleStore.status(),
      publicCredentials: this.#scan.found,
      publicPasswordScan: this.#scan.progress,
      warnings: prepared.warnings,
      stopping: this.#stopping !== undefined,
    };
  }

  routes(): Record<ListenerName, { method: string; url: string }[]> {
    return perListener((name) => this.#listeners.get(name)?.routes ?? []);
  }

  reload(request: ReloadRequest): Promise<ReloadOutcome> {
    const run = this.#reloads.then(() => this.#reload(request));
    this.#reloads = run.catch(() => undefined);
    return run;
  }

  shutdown(origin: string): void {
    this.stop(origin).catch((error: unknown) => {
      this.#log.error({ err: error }, 'stopping failed; exiting');
      this.#resolveStopped();
    });
  }

  async #reload(request: ReloadRequest): Promise<ReloadOutcome> {
    let outcome: ReloadOutcome;
    try {
      outcome = await this.#reloadOnce(request);
    } catch (error) {
      // A bug, not a bad configuration: keep serving what runs, say so.
      this.#log.error({ err: error, origin: request.origin }, 'reload failed unexpectedly; still serving the running configuration');
      outcome = rejected(this.#active.generation, [`internal error while reloading: ${error instanceof Error ? error.message : String(error)}`]);
    }
    this.#stateVersion++;
    this.metrics.reloads.inc({ outcome: outcome.status, trigger: request.trigger });
    return outcome;
  }

  async #reloadOnce({ origin, answer }: ReloadRequest): Promise<ReloadOutcome> {
    if (this.#stopping) return rejected(this.#active.generation, ['keepd is stopping']);
    // 1-2. assemble and prepare
    const bound = AbortSignal.any([AbortSignal.timeout(STRICT_CHECK_BUDGET_MS), this.#stopSignal.signal]);
    const loaded = await loadConfiguration(this.#options.configDir, this.#options.env, this.#options.strict === true, bound);
    if (!loaded.ok) {
      // Follow new TLS paths even when their files are not right yet: fixing them must be seen.
      if (loaded.settings) await this.#watching.follow(loaded.settings, this.#active.prepared.loaded.config.watch, false);
      return this.#refuse(origin, loaded.problems.map(formatProblem));
    }
    // 3. plan
    const current = this.#active;
    const next = withNewerAcmeCertificate(loaded.prepared, this.#acme.material());
    await yieldToEventLoop();
    const refusals = reloadRefusals(this.#listeners.running(), next);
    if (refusals.length > 0) {
      // Refused, but its TLS files are followed: renewing them in place must be seen.
      await this.#watching.follow(settingsOf(next), current.prepared.loaded.config.watch, false);
      return this.#refuse(origin, refusals);
    }
    const decision = decide(current.prepared, next, this.#listeners.running(), ['management', 'front']);
    if (decision.status === 'unchanged') {
      if (this.#stale.clear()) {
        this.#log.info({ origin, generation: current.generation }, `the configuration on disk is generation ${current.generation} again (${origin}); the refused edit is gone`);
      }
      return { status: 'unchanged', generation: current.generation };
    }
    // 4. apply: the snapshot first (the next request sees the new accounts), then the sockets.
    const generation = current.generation + 1;
    const planned: ReloadOutcome = { status: 'applied', generation, changes: decision.described, errors: [] };
    if (answer && decision.answerFirst) await answer(planned);
    this.#stale.clear();
    this.#adopt({ prepared: next, generation, loadedAt: new Date() });
    const errors = await this.#listeners.apply(decision.changes, next, next.loaded.config.drainTimeoutSeconds * 1000);
    this.#applyAcme(next);
    for (const warning of next.warnings.filter((w) => !current.prepared.warnings.includes(w))) this.#log.warn(warning);
    this.#log.info({ origin, generation, changes: decision.described }, `configuration generation ${generation} applied (${origin})`);
    // A listener that kept its old socket: the configuration on disk is not all in effect; say so.
    if (errors.length > 0) this.#stale.partlyApplied(origin, errors);
    await this.#watching.follow(settingsOf(next), next.loaded.config.watch, true);
    return { ...planned, errors };
  }

  #applyAcme({ acme, policy }: PreparedConfig): void {
    this.#acme.apply(acme?.settings, acme?.stored.state === 'usable' ? acme.stored : undefined, policy);
  }

  #refuse(origin: string, problems: string[]): ReloadOutcome {
    this.#stale.refused(origin, problems, this.#active.generation);
    return rejected(this.#active.generation, problems);
  }

  /** Graceful stop: stop accepting, drain in-flight requests up to drainTimeoutSeconds, close. */
  stop(origin: string): Promise<void> {
    if (this.#stopping) return this.#stopping;
    const drainSeconds = this.#active.prepared.loaded.config.drainTimeoutSeconds;
    this.#log.info({ origin, drainSeconds }, `stopping (${origin}); draining in-flight requests for up to ${drainSeconds}s`);
    this.#stateVersion++;
    this.#stopSignal.abort(); // a reload under way gives up its strict check
    this.#scan.stop();
    const acmeStopped = this.#acme.stop(); // no new attempt from now on
    this.#stopping = (async () => {
      try {
        await this.#watching.close();
        await this.#reloads; // a reload under way finishes (new ones are refused) before the drain
        const cut = await this.#listeners.closeAll(drainSeconds * 1000);
        await Promise.all([this.gateway.close(), this.frontUpstreams.close(), acmeStopped, this.throttleStore.close()]);
        if (cut.length > 0) this.#log.warn({ listeners: cut }, `drain time over; cut the remaining connections of ${cut.join(', ')}`);
        this.#log.info('stopped');
      } finally {
        this.#resolveStopped();
      }
    })();
    return this.#stopping;
  }
}
