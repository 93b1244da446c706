import path from 'node:path';
import { saltPlatformPassword } from '../accounts/platform-secret.js';
import type { Logger } from 'pino';
import { Authenticator, countAccounts, type AccountIndex } from '../accounts/accounts.js';
import { LoginThrottle } from '../accounts/login-throttle.js';
import { describePublicCredential, findPublicCredentials, type PublicCredential } from '../accounts/public-credentials.js';
import { VerificationCache } from '../accounts/verification-cache.js';
import { VerificationLimiter } from '../accounts/verification-limiter.js';
import { assembleConfig, type LoadedConfig } from '../config/assemble.js';
import type { Environment } from '../config/env-layer.js';
import { LISTENER_NAMES, perListener, type ListenerName, REALMS } from '../config/listener-table.js';
import { resolveListenerSettings, type ListenerSettings } from '../config/listener-settings.js';
import type { KeepConfig } from '../config/schema.js';
import { formatProblem } from '../config/problems.js';
import { LISTENER_ROUTES } from '../listeners/index.js';
import type { ListenerContext, RouteEntry } from '../listeners/listener-context.js';
import { ListenerServer } from '../listeners/listener-server.js';
import { KeepdMetrics } from '../metrics/keepd-metrics.js';
import { ConfigWatcher, mergeTargets, type WatchTargets } from './config-watcher.js';
import { healthReport, type DaemonSnapshot, type ListenerStatus } from './daemon-snapshot.js';
import { planListenerChange, type ListenerChange } from './listener-changes.js';
import { VERSION } from '../support/package-info.js';
import { prepareConfig, type PreparedConfig } from './prepare.js';
import type { ReloadOutcome } from './reload-outcome.js';

export interface DaemonOptions {
  configDir: string;
  env: Environment;
  logger: Logger;
  /** `--strict`: refuse accounts with public example passwords (as does `"strict": true`). */
  strict?: boolean;
}


/** What to watch for a configuration: its directory, and TLS files that live elsewhere. */
export function watchTargets(configDir: string, settings: ListenerSettings[]): WatchTargets {
  const directory = path.resolve(configDir);
  const files = settings
    .filter((s) => s.enabled && s.tls)
    .flatMap((s) => [s.tls?.file, s.tls?.pemCert])
    .filter((file): file is string => file !== undefined && path.dirname(file) !== directory);
  return { directories: [directory], files: [...new Set(files)] };
}

/** The label of keepd_config_reloads_total{trigger}: bounded, whatever the origin text says. */
function reloadTrigger(origin: string): string {
  if (origin.startsWith('watch')) return 'watch';
  if (origin.startsWith('SIG')) return 'signal';
  return 'api';
}

/** keepd could not start: every reason, each a sentence for the admin, and the exit code that fits. */
export class StartupError extends Error {
  constructor(
    readonly reasons: string[],
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(reasons.join('\n'));
  }
}

interface ActiveConfig {
  prepared: PreparedConfig;
  generation: number;
  loadedAt: Date;
}

function processMetricsEnabled(prepared: PreparedConfig): boolean {
  const { config } = prepared.loaded;
  return config.processMetricsEnabled ?? config.jvmMetricsEnabled;
}

/**
 * The running keepd: four listeners over one live configuration. Requests read the active
 * configuration per request; reloads are serialized and either apply completely or not at all.
 */
export class Daemon implements ListenerContext {
  readonly authenticator: Authenticator;
  readonly metrics = new KeepdMetrics();
  readonly #throttles: Record<ListenerName, LoginThrottle>;
  #publicCredentials: PublicCredential[] = [];
  /** Bumped on every change /health reports; with the second, the key of the cached answer. */
  #stateVersion = 0;
  #healthCache = { key: '', statusCode: 200, json: '' };
  #warnedPublic = new Set<string>();
  readonly startedAt = new Date();
  readonly #options: DaemonOptions;
  readonly #log: Logger;
  readonly #listeners = new Map<ListenerName, ListenerServer>();
  #active: ActiveConfig;
  #staleConfig: DaemonSnapshot['staleConfig'];
  #reloads: Promise<unknown> = Promise.resolve();
  #watcher: ConfigWatcher | undefined;
  #lastLoggedProblems = '';
  #stopping: Promise<void> | undefined;
  #resolveStopped: () => void = () => undefined;
  readonly stopped = new Promise<void>((resolve) => {
    this.#resolveStopped = resolve;
  });

  private constructor(prepared: PreparedConfig, options: DaemonOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#active = { prepared, generation: 1, loadedAt: new Date() };
    const { config } = prepared.loaded;
    this.authenticator = new Authenticator(new VerificationCache(), new VerificationLimiter(config.passwordVerification));
    this.#throttles = perListener(() => new LoginThrottle(config.loginRateLimit));
    this.metrics.beforeScrape = () => {
      this.metrics.verificationsQueued.set(this.authenticator.limiter.queued);
      for (const name of LISTENER_NAMES) this.metrics.throttledClients.set({ listener: name }, this.#throttles[name].blockedClients());
    };
  }

  #strict(prepared: PreparedConfig): boolean {
    return this.#options.strict === true || prepared.loaded.config.strict;
  }

  /** Starts every enabled listener, or none: on any failure the ones already bound are closed again. */
  static async start(prepared: PreparedConfig, options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(prepared, options);
    // Reloads (the watcher starts below) wait until the start is over.
    let started: () => void = () => undefined;
    daemon.#reloads = new Promise<void>((resolve) => {
      started = resolve;
    });
    try {
      return await daemon.#start(prepared);
    } finally {
      started();
    }
  }

  async #start(prepared: PreparedConfig): Promise<this> {
    if (this.#strict(prepared)) {
      const found = await findPublicCredentials(prepared.accounts);
      if (found.length > 0) throw new StartupError(found.map((c) => `strict: ${describePublicCredential(c)}`), 2);
    }
    this.#applySettings(prepared);
    for (const warning of prepared.warnings) this.#log.warn(warning);
    // Watching starts before the listeners bind: a change made once they answer is never missed.
    await this.#updateWatcher(prepared.loaded.config, Object.values(prepared.listeners).map((l) => l.settings), true);
    const results = await Promise.allSettled(
      LISTENER_NAMES.filter((name) => prepared.listeners[name].settings.enabled).map((name) => this.#startListener(name, prepared)),
    );
    const failures = results.flatMap((r): string[] => {
      if (r.status === 'fulfilled') return [];
      const reason: unknown = r.reason;
      return [reason instanceof Error ? reason.message : String(reason)];
    });
    if (failures.length > 0) {
      await this.#watcher?.close();
      await Promise.all([...this.#listeners.values()].map((l) => l.close(0)));
      throw new StartupError(failures);
    }
    this.metrics.markConfig(1, this.#active.loadedAt);
    this.#scanForPublicPasswords(1, prepared);
    return this;
  }

  async #startListener(name: ListenerName, prepared: PreparedConfig): Promise<ListenerServer> {
    const spec = prepared.listeners[name];
    try {
      const listener = await ListenerServer.start({ prepared: spec, policy: prepared.policy, logger: this.#log, ctx: this, routes: LISTENER_ROUTES[name] });
      this.#listeners.set(name, listener);
      this.#touch();
      this.metrics.markListener(name, true, listener.tls?.certificate.validToMs);
      this.#log.info({ listener: name, scheme: listener.scheme, address: listener.address, port: listener.port }, `${name} listener on ${listener.scheme}://${listener.address.includes(':') ? `[${listener.address}]` : listener.address}:${listener.port}`);
      if (!listener.tls) this.#log.warn({ listener: name }, `the ${name} listener serves plain http: passwords cross the network in clear text; configure TLSFile and TLSType`);
      return listener;
    } catch (error) {
      this.#touch();
      this.metrics.markListener(name, false, undefined);
      throw error;
    }
  }

  /**
   * Looks for accounts with public passwords after the listeners are up (it costs PBKDF2 runs, and
   * start-up must stay fast); in strict mode the same check runs before, and refuses.
   */
  #scanForPublicPasswords(generation: number, prepared: PreparedConfig): void {
    findPublicCredentials(prepared.accounts).then((found) => {
      if (generation !== this.#active.generation) return; // a newer configuration is being scanned
      this.#publicCredentials = found;
      this.#touch();
      for (const realm of REALMS) this.metrics.publicPasswordAccounts.set({ realm }, found.filter((c) => c.realm === realm).length);
      const keys = new Set<string>();
      for (const credential of found) {
        const key = JSON.stringify([credential.realm, credential.account, prepared.accounts.get(credential.realm)?.get(credential.account)?.storedSecret]);
        keys.add(key);
        if (!this.#warnedPublic.has(key)) this.#log.warn({ listener: credential.listener, realm: credential.realm, account: credential.account }, describePublicCredential(credential));
      }
      this.#warnedPublic = keys;
    }, (error: unknown) => this.#log.error({ err: error }, 'the check for public passwords failed'));
  }

  #applySettings(prepared: PreparedConfig): void {
    const { config } = prepared.loaded;
    this.authenticator.limiter.configure(config.passwordVerification);
    for (const name of LISTENER_NAMES) this.#throttles[name].configure(config.loginRateLimit);
    const level = config.LOG_LEVEL;
    this.#log.level = level;
    for (const listener of this.#listeners.values()) listener.setLogLevel(level);
    this.metrics.setProcessMetrics(processMetricsEnabled(prepared));
  }

  // ListenerContext: read live by every request.

  throttle(listener: ListenerName): LoginThrottle {
    return this.#throttles[listener];
  }

  accounts(): AccountIndex {
    return this.#active.prepared.accounts;
  }

  config(): LoadedConfig {
    return this.#active.prepared.loaded;
  }

  listener(name: ListenerName): ListenerServer | undefined {
    return this.#listeners.get(name);
  }

  /** Something /health reports changed: the cached answer is void. */
  #touch(): void {
    this.#stateVersion++;
  }

  health(): { statusCode: number; json: string } {
    const now = Date.now();
    const key = `${this.#stateVersion}:${Math.floor(now / 1000)}`;
    if (this.#healthCache.key !== key) {
      const report = healthReport(this.snapshot(), now);
      this.#healthCache = { key, statusCode: report.statusCode, json: JSON.stringify(report.body) };
    }
    return this.#healthCache;
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
      listeners: perListener((name): ListenerStatus => {
        const running = this.#listeners.get(name);
        return {
          name,
          enabled: prepared.listeners[name].settings.enabled,
          up: running?.listening ?? false,
          scheme: running?.scheme,
          address: running?.address,
          port: running?.port,
          certificate: running?.tls?.certificate,
        };
      }),
      staleConfig: this.#staleConfig,
      publicCredentials: this.#publicCredentials,
      warnings: prepared.warnings,
      stopping: this.#stopping !== undefined,
    };
  }

  routes(): Record<ListenerName, RouteEntry[]> {
    return perListener((name) => this.#listeners.get(name)?.routes ?? []);
  }

  reload(origin: string, answer?: (outcome: ReloadOutcome) => Promise<void>): Promise<ReloadOutcome> {
    const run = this.#reloads.then(() => this.#reload(origin, answer));
    this.#reloads = run.catch(() => undefined);
    return run;
  }

  shutdown(origin: string): void {
    void this.stop(origin);
  }

  /**
   * Starts, retargets or stops the watcher to match a configuration. One that is not applied (it
   * was refused) only adds what it names, so that fixing its TLS files is noticed; it cannot switch
   * watching off or drop a directory.
   */
  async #updateWatcher(config: KeepConfig, settings: ListenerSettings[], applied: boolean): Promise<void> {
    if (this.#stopping) return;
    const targets = watchTargets(this.#options.configDir, settings);
    if (!applied) {
      this.#watcher?.retarget(mergeTargets(this.#watcher.targets, targets), this.#watcher.debounceMs);
      return;
    }
    const enabled = config.watch.enabled;
    if (!enabled) {
      await this.#watcher?.close();
      this.#watcher = undefined;
    } else if (this.#watcher) {
      this.#watcher.retarget(targets, config.watch.debounceMs);
    } else {
      this.#watcher = await ConfigWatcher.start(targets, {
        debounceMs: config.watch.debounceMs,
        onChange: (reason) => void this.reload(`watch: ${reason}`).catch((error: unknown) => this.#log.error({ err: error }, 'reload failed')),
        log: this.#log,
      });
    }
  }

  async #reload(origin: string, answer?: (outcome: ReloadOutcome) => Promise<void>): Promise<ReloadOutcome> {
    let outcome: ReloadOutcome;
    try {
      outcome = await this.#reloadOnce(origin, answer);
    } catch (error) {
      // A bug, not a bad configuration: keep serving what runs, say so.
      this.#log.error({ err: error, origin }, 'reload failed unexpectedly; still serving the running configuration');
      outcome = { status: 'rejected', generation: this.#active.generation, problems: [`internal error while reloading: ${error instanceof Error ? error.message : String(error)}`] };
    }
    this.#touch();
    this.metrics.reloads.inc({ outcome: outcome.status, trigger: reloadTrigger(origin) });
    return outcome;
  }

  async #reloadOnce(origin: string, answer?: (outcome: ReloadOutcome) => Promise<void>): Promise<ReloadOutcome> {
    if (this.#stopping) return { status: 'rejected', generation: this.#active.generation, problems: ['keepd is stopping'] };
    const assembled = await assembleConfig(this.#options.configDir, this.#options.env, saltPlatformPassword);
    if (assembled.ok) {
      // Follow new TLS paths even when their files are not right yet: fixing them must be seen.
      await this.#updateWatcher(assembled.loaded.config, Object.values(resolveListenerSettings(assembled.loaded.config, assembled.loaded.configDir)), false);
    }
    let preparation = assembled.ok ? await prepareConfig(assembled.loaded) : assembled;
    if (preparation.ok && this.#strict(preparation.prepared)) {
      const found = await findPublicCredentials(preparation.prepared.accounts);
      if (found.length > 0) preparation = { ok: false, problems: found.map((c) => ({ source: 'strict', message: describePublicCredential(c) })) };
    }
    if (!preparation.ok) {
      const problems = preparation.problems.map(formatProblem);
      this.#staleConfig = { at: new Date(), origin, problems };
      // Every error once: a watcher sees a broken file many times while it stays broken.
      const key = JSON.stringify(problems);
      if (key !== this.#lastLoggedProblems) {
        this.#lastLoggedProblems = key;
        this.#log.error({ origin, problems }, `configuration refused (${origin}); still serving generation ${this.#active.generation}:\n  ${problems.join('\n  ')}`);
      }
      return { status: 'rejected', generation: this.#active.generation, problems };
    }
    this.#lastLoggedProblems = '';
    const next = preparation.prepared;
    const current = this.#active.prepared;
    this.#staleConfig = undefined;
    const policyChanged = JSON.stringify(next.policy) !== JSON.stringify(current.policy);
    // Compared with what runs, not with the last configuration: a change that failed to apply
    // (a port that was taken) is tried again by the next reload.
    const changes = LISTENER_NAMES.map((name) => {
      const running = this.#listeners.get(name);
      const now = running ? { settings: running.settings, tls: running.tls } : current.listeners[name];
      return planListenerChange(now, next.listeners[name], running !== undefined, policyChanged);
    }).filter((change) => change.action !== 'keep');
    const configChanged = JSON.stringify(next.loaded.merged) !== JSON.stringify(current.loaded.merged);
    if (!configChanged && changes.length === 0) return { status: 'unchanged', generation: this.#active.generation };

    const generation = this.#active.generation + 1;
    const described = [...(configChanged ? ['configuration'] : []), ...changes.map((c) => `${c.name}: ${c.action} (${c.reason})`)];
    const planned: ReloadOutcome = { status: 'applied', generation, changes: described, errors: [] };
    // The caller may be on the management listener: when that one is about to be rebound or
    // stopped, answer before (the answer cannot say how it went); otherwise after, with any errors.
    if (answer && changes.some((c) => c.name === 'management' && (c.action === 'rebind' || c.action === 'stop'))) await answer(planned);

    // Accounts and settings first: the next request sees them. Then the sockets.
    this.#active = { prepared: next, generation, loadedAt: new Date() };
    this.#applySettings(next);
    const errors = (await Promise.all(changes.map((change) => this.#applyChange(change, next)))).flat();
    this.metrics.markConfig(generation, this.#active.loadedAt);
    this.#scanForPublicPasswords(generation, next);
    for (const warning of next.warnings.filter((w) => !current.warnings.includes(w))) this.#log.warn(warning);
    this.#log.info({ origin, generation, changes: described }, `configuration generation ${generation} applied (${origin})`);
    await this.#updateWatcher(next.loaded.config, Object.values(next.listeners).map((l) => l.settings), true);
    return { ...planned, errors };
  }

  async #applyChange(change: ListenerChange, next: PreparedConfig): Promise<string[]> {
    const { name } = change;
    this.#touch();
    const old = this.#listeners.get(name);
    const drainMs = next.loaded.config.drainTimeoutSeconds * 1000;
    try {
      switch (change.action) {
        case 'keep':
          return [];
        case 'tune':
          old?.tune(next.listeners[name].settings.limits);
          return [];
        case 'swap-tls': {
          const material = next.listeners[name].tls;
          if (old && material) {
            old.updateTls(material, next.policy);
            this.metrics.markListener(name, true, material.certificate.validToMs);
            this.#log.info({ listener: name, serialNumber: material.certificate.serialNumber, notAfter: material.certificate.validTo }, `${name} listener: new TLS context for new connections`);
          }
          return [];
        }
        case 'stop':
          this.#listeners.delete(name);
          this.metrics.forgetListener(name);
          await old?.close(drainMs);
          this.#log.info({ listener: name }, `${name} listener stopped (disabled)`);
          return [];
        case 'start':
          await this.#startListener(name, next);
          return [];
        case 'rebind': {
          const samePort = old !== undefined && old.settings.port !== 0 && old.settings.port === next.listeners[name].settings.port;
          if (samePort) {
            // The port must be free first: stop accepting on the old socket (its requests go on
            // draining), bind the new one straight away, then wait for the drain.
            this.#listeners.delete(name);
            const { drained } = await old.release(drainMs);
            try {
              await this.#startListener(name, next);
            } finally {
              await drained;
            }
          } else {
            // A new port: bind the new socket first, so a failure leaves the old one serving.
            this.#listeners.delete(name);
            try {
              await this.#startListener(name, next);
            } catch (error) {
              if (old) this.#listeners.set(name, old);
              throw error;
            }
            await old?.close(drainMs);
          }
          return [];
        }
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#log.error({ listener: name }, message);
      return [message];
    }
  }

  /** Graceful stop: stop accepting, drain in-flight requests up to drainTimeoutSeconds, close. */
  stop(origin: string): Promise<void> {
    if (this.#stopping) return this.#stopping;
    const drainSeconds = this.#active.prepared.loaded.config.drainTimeoutSeconds;
    this.#log.info({ origin, drainSeconds }, `stopping (${origin}); draining in-flight requests for up to ${drainSeconds}s`);
    this.#touch();
    this.#stopping = (async () => {
      await this.#watcher?.close();
      await this.#reloads; // a reload under way finishes (new ones are refused) before the drain
      const results = await Promise.all(
        [...this.#listeners].map(async ([name, listener]) => {
          const { forced } = await listener.close(drainSeconds * 1000);
          this.metrics.markListener(name, false, undefined);
          return forced ? [name] : [];
        }),
      );
      const cut = results.flat();
      if (cut.length > 0) this.#log.warn({ listeners: cut }, `drain time over; cut the remaining connections of ${cut.join(', ')}`);
      this.#log.info('stopped');
      this.#resolveStopped();
    })();
    return this.#stopping;
  }
}
