import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AuthGate } from '../auth/authenticate.js';
import type { UpstreamSettings } from '../config/upstream-settings.js';
import type { UpstreamMetrics } from '../metrics/upstream-metrics.js';
import { logs } from '../support/logger.js';
import type { NodeRequest, NodeResponse } from '../support/node-http.js';
import type { ExchangeEnd } from './exchange.js';
import type { ProxyContext } from './context.js';
import { proxy } from './proxy.js';
import { Upstream } from './upstream.js';
import { UpstreamHealth, type UpstreamStatus } from './upstream-health.js';
import { proxyUpgrade } from './websocket.js';

export interface GatewayOptions {
  /** The data listener's authentication (its realm, throttle, metrics). */
  gate: AuthGate;
  metrics: UpstreamMetrics;
  log: Logger;
  /** The listener's request metrics (route `/*` for everything proxied). */
  record: (method: string, status: number, seconds: number) => void;
  /** Something /health reports changed (the upstream came or went). */
  changed: () => void;
}

/** What apply() takes: the configuration's upstream (undefined: none) and its CA text. */
export interface GatewayConfig {
  settings: UpstreamSettings | undefined;
  ca: string | undefined;
}

/**
 * The data listener's gateway to the product (docs/gateway.md): the upstream in use, its health,
 * and the request and upgrade handlers the data listener hands everything to. A reload that
 * changes the upstream swaps it here; client connections to keepd stay open, and requests under
 * way finish on the old upstream before it closes.
 */
export class Gateway {
  readonly #options: GatewayOptions;
  #upstream: Upstream | undefined;
  #health: UpstreamHealth | undefined;
  #proxy: ProxyContext | undefined;
  #tunnel: ProxyContext | undefined;

  constructor(options: GatewayOptions) {
    this.#options = options;
  }

  /** true when an upstream is configured: the data listener then proxies everything. */
  get active(): boolean {
    return this.#upstream !== undefined;
  }

  get status(): UpstreamStatus | undefined {
    return this.#health?.status;
  }

  handle(req: NodeRequest, res: NodeResponse): void {
    if (this.#proxy) proxy(req, res, this.#proxy);
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#tunnel) proxyUpgrade(req, socket, head, this.#tunnel);
    else socket.destroy();
  }

  /** The configuration in use: a new upstream only when it changed (its pool and probe carry on otherwise). */
  apply(config: GatewayConfig): void {
    const { settings, ca } = config;
    if (settings === undefined) {
      this.#retire();
      return;
    }
    let upstream = this.#upstream;
    if (!upstream?.sameAs(settings, ca)) {
      this.#retire();
      upstream = new Upstream(settings, ca);
      const health = new UpstreamHealth(upstream, (status, previous) => this.#healthChanged(status, previous));
      this.#upstream = upstream;
      this.#health = health;
      health.start();
    }
    this.#contexts(upstream);
  }

  #contexts(upstream: Upstream): void {
    const { gate, metrics, log, record } = this.#options;
    const health = this.#health;
    const ended = (end: ExchangeEnd): void => {
      // Only a failure to connect says the product is down; an answer of any kind says it is up.
      if (end.failure?.down === true) health?.failed(end.failure.message);
      else if (end.answered > 0) health?.reached(undefined);
      record(end.method, end.status, end.seconds);
      if (logs(log, 'debug')) {
        // The path only: query strings may carry tokens.
        const path = end.url.split('?')[0] ?? '';
        log.debug({ listener: 'data', method: end.method, path, status: end.status, outcome: end.outcome, ms: Math.round(end.seconds * 10_000) / 10, sent: end.sent, received: end.received, remoteAddress: end.client, ...(end.failure ? { error: end.failure.message } : {}) }, 'proxied');
      }
    };
    this.#proxy = { upstream, gate, metrics, ended, throttleLogins: true };
    this.#tunnel = { upstream, gate, metrics, ended, throttleLogins: true };
  }

  #healthChanged(status: UpstreamStatus, previous: boolean | undefined): void {
    const { log, changed } = this.#options;
    changed();
    if (status.reachable === false) log.warn({ upstream: status.url, error: status.lastError }, `the product is unreachable: ${status.lastError ?? ''}; the data listener answers 502/504 until it is back`);
    else if (previous === false) log.info({ upstream: status.url }, `the product at ${status.url} answers again`);
  }

  /** The old upstream finishes its requests in the background, then closes. */
  #retire(): void {
    this.#health?.stop();
    void this.#upstream?.close();
    this.#upstream = undefined;
    this.#health = undefined;
    this.#proxy = undefined;
    this.#tunnel = undefined;
  }

  /** keepd is stopping: the listeners have drained; whatever is left is cut. */
  async close(): Promise<void> {
    this.#health?.stop();
    await this.#upstream?.close(true);
    this.#upstream = undefined;
  }
}
