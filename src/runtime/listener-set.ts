import type { Logger } from 'pino';
import { LISTENER_NAMES, type ListenerName } from '../config/listener-table.js';
import { probeAddress } from '../listeners/bind-address.js';
import { ListenerServer, type ListenerParts } from '../listeners/listener-server.js';
import type { TrustTest } from '../config/trusted-proxies.js';
import type { PreparedListener, SniMaterial } from '../listeners/prepared-listener.js';
import type { SecureContext } from 'node:tls';
import type { TlsMaterial } from '../tls/load-tls-material.js';
import type { ListenerStatus } from '../listeners/status-reports.js';
import type { KeepdMetrics } from '../metrics/keepd-metrics.js';
import type { TlsPolicy } from '../tls/tls-policy.js';
import type { ListenerChange, NextListeners, RunningListener } from './plan.js';

export interface ListenerSetOptions {
  log: Logger;
  metrics: KeepdMetrics;
  parts: (name: ListenerName) => ListenerParts;
  /** trustedProxies in use. */
  trust: () => TrustTest;
  /** Something /health reports changed (a listener came up, went down, swapped its certificate). */
  changed: () => void;
  /** The pending tls-alpn-01 challenge certificate for a name (ACME listeners). */
  acmeChallenge: (servername: string) => SecureContext | undefined;
  /** The newest certificate from ACME: an ACME listener (re)built now serves it, newer than what a reload read from disk. */
  acmeMaterial: () => TlsMaterial | undefined;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const urlHost = (address: string): string => (address.includes(':') ? `[${address}]` : address);

/** The running listener servers, and the socket work of a plan (plan.ts), in an order that cannot lock itself out. */
export class ListenerSet {
  readonly #servers = new Map<ListenerName, ListenerServer>();
  readonly #options: ListenerSetOptions;

  constructor(options: ListenerSetOptions) {
    this.#options = options;
  }

  get(name: ListenerName): ListenerServer | undefined {
    return this.#servers.get(name);
  }

  names(): ListenerName[] {
    return [...this.#servers.keys()];
  }

  /** What runs, as plan() compares it. */
  running(): Partial<Record<ListenerName, RunningListener>> {
    return Object.fromEntries([...this.#servers].map(([name, server]) => [name, { settings: server.settings, tls: server.tls, policy: server.policy, sni: server.sni }]));
  }

  /** One listener as /health and /info report it. */
  status(name: ListenerName, enabled: boolean): ListenerStatus {
    const running = this.#servers.get(name);
    return { name, enabled, up: running?.listening ?? false, acme: running?.settings.acme ?? false, scheme: running?.scheme, http2: running?.http2, address: running?.address, port: running?.port, certificate: running?.tls?.certificate, sni: (running?.sni ?? []).map((entry) => ({ hostnames: entry.hostnames, certificate: entry.material.certificate })) };
  }

  setLogLevel(level: string): void {
    for (const server of this.#servers.values()) server.setLogLevel(level);
  }

  /** Builds and binds one listener; rejects with a sentence naming listener, address and port. */
  async start(name: ListenerName, prepared: PreparedListener, policy: TlsPolicy): Promise<ListenerServer> {
    const { log, metrics, parts, changed, trust, acmeChallenge, acmeMaterial } = this.#options;
    const spec = prepared.settings.acme ? { ...prepared, tls: acmeMaterial() ?? prepared.tls } : prepared;
    try {
      const refused = (listener: ListenerName, reason: string): void => metrics.connectionsRefused.inc({ listener, reason });
      const server = await ListenerServer.start({ prepared: spec, policy, logger: log, requests: metrics.requests, refused, ...parts(name), trust, acmeChallenge });
      this.#servers.set(name, server);
      // A certificate that came from ACME while it was binding (installAcme did not see it yet).
      const latest = spec.settings.acme ? acmeMaterial() : undefined;
      if (latest && latest.digest !== server.tls?.digest) server.updateTls(latest, policy, []);
      metrics.markListener(name, true, server.tls?.certificate.validToMs);
      log.info({ listener: name, scheme: server.scheme, address: server.address, port: server.port }, `${name} listener on ${server.scheme}://${urlHost(server.address)}:${server.port}`);
      if (server.scheme === 'http') log.warn({ listener: name }, `the ${name} listener serves plain http: passwords cross the network in clear text; configure TLSFile and TLSType`);
      return server;
    } catch (error) {
      metrics.markListener(name, false, undefined);
      throw error;
    } finally {
      changed();
    }
  }

  /** Starts every enabled listener, or none: on any failure the ones already bound are closed again. Resolves with the failures. */
  async startAll(next: NextListeners): Promise<string[]> {
    const enabled = LISTENER_NAMES.filter((name) => next.listeners[name].settings.enabled);
    const results = await Promise.allSettled(enabled.map((name) => this.start(name, next.listeners[name], next.policy)));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [message(r.reason)] : []));
    if (failures.length > 0) await this.closeAll(0);
    return failures;
  }

  /**
   * Applies a plan; returns one sentence per change that failed (its listener keeps what ran).
   * Order: stops (ports free up), in-place changes, rebinds, starts. A rebind to a new free port
   * binds first and then lets the old socket go; one that needs a port a listener holds (its own,
   * or another's that moves too, as in a swap) lets go first, binds, and on failure binds the old
   * configuration again. Drains run in the background and are awaited at the end.
   */
  async apply(changes: ListenerChange[], next: NextListeners, drainMs: number): Promise<string[]> {
    const errors: string[] = [];
    const drains: Promise<unknown>[] = [];
    const fail = (name: ListenerName, error: unknown): void => {
      this.#options.log.error({ listener: name }, message(error));
      errors.push(message(error));
    };
    const of = (action: ListenerChange['action']): ListenerName[] => changes.filter((c) => c.action === action).map((c) => c.name);

    for (const name of of('stop')) {
      const old = this.#take(name);
      drains.push(old.close(drainMs).then(() => this.#options.log.info({ listener: name }, `${name} listener stopped (disabled)`)));
      this.#options.metrics.forgetListener(name);
    }
    for (const name of of('swap-tls')) this.#swapTls(name, next);
    for (const name of [...of('swap-tls'), ...of('tune')]) this.#servers.get(name)?.tune(next.listeners[name].settings.limits);

    const rebinds = of('rebind');
    const heldPorts = new Set([...this.#servers.values()].map((s) => s.port));
    const releaseFirst = rebinds.filter((name) => this.#servers.get(name)?.port === next.listeners[name].settings.port || heldPorts.has(next.listeners[name].settings.port));
    for (const name of rebinds.filter((n) => !releaseFirst.includes(n))) {
      const old = this.#take(name);
      try {
        await this.start(name, next.listeners[name], next.policy);
        drains.push(old.close(drainMs));
      } catch (error) {
        this.#servers.set(name, old);
        this.#options.metrics.markListener(name, true, old.tls?.certificate.validToMs);
        fail(name, error);
      }
    }
    // Those that must let go first: check the new address can be bound at all, release, bind.
    const released: { name: ListenerName; old: ListenerServer }[] = [];
    for (const name of releaseFirst) {
      try {
        await probeAddress(next.listeners[name].settings);
      } catch (error) {
        fail(name, error);
        continue;
      }
      const old = this.#take(name);
      const { drained } = await old.release(drainMs);
      drains.push(drained);
      released.push({ name, old });
    }
    for (const { name, old } of released) {
      try {
        await this.start(name, next.listeners[name], next.policy);
      } catch (error) {
        fail(name, error);
        await this.start(name, { settings: old.settings, tls: old.tls, sni: old.sni }, old.policy).catch((again: unknown) => fail(name, again));
      }
    }

    for (const name of of('start')) await this.start(name, next.listeners[name], next.policy).catch((error: unknown) => fail(name, error));
    await Promise.all(drains);
    return errors;
  }

  /** Graceful close of every listener; resolves with the names whose connections had to be cut. */
  async closeAll(drainMs: number): Promise<ListenerName[]> {
    const cut = await Promise.all(
      [...this.#servers].map(async ([name, server]) => {
        const { forced } = await server.close(drainMs);
        this.#options.metrics.markListener(name, false, undefined);
        return forced ? [name] : [];
      }),
    );
    this.#options.changed();
    return cut.flat();
  }

  #take(name: ListenerName): ListenerServer {
    const server = this.#servers.get(name);
    if (!server) throw new Error(`the ${name} listener is not running`);
    this.#servers.delete(name);
    this.#options.changed();
    return server;
  }

  /** A certificate from ACME (ordered, renewed, or stored by another process) into every running ACME listener. */
  installAcme(material: TlsMaterial, policy: TlsPolicy): void {
    for (const [name, server] of this.#servers) if (server.settings.acme) this.#install(name, server, material, policy, []);
  }

  #swapTls(name: ListenerName, next: NextListeners): void {
    const server = this.#servers.get(name);
    const material = next.listeners[name].tls;
    if (server && material) this.#install(name, server, material, next.policy, next.listeners[name].sni);
  }

  #install(name: ListenerName, server: ListenerServer, material: TlsMaterial, policy: TlsPolicy, sni: SniMaterial[]): void {
    server.updateTls(material, policy, sni);
    this.#options.metrics.markListener(name, true, material.certificate.validToMs);
    this.#options.changed();
    this.#options.log.info({ listener: name, serialNumber: material.certificate.serialNumber, notAfter: material.certificate.validTo }, `${name} listener: new TLS context for new connections`);
  }
}
