import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AuthGate } from '../auth/authenticate.js';
import type { UpstreamSettings } from '../config/upstream-settings.js';
import { UpstreamMetrics } from '../metrics/upstream-metrics.js';
import { logs } from '../support/logger.js';
import type { NodeRequest, NodeResponse } from '../support/node-http.js';
import type { ProxyContext } from './context.js';
import type { ExchangeEnd } from './exchange.js';
import { proxy } from './proxy.js';
import { Upstream } from './upstream.js';
import { proxyUpgrade } from './websocket.js';

export interface FrontUpstreamsOptions {
  /** Whose X-Forwarded-For is believed (the data listener's gate; its login throttle is not used here). */
  gate: AuthGate;
  log: Logger;
  /** The front listener's request metrics (route `/*`). */
  record: (method: string, status: number, seconds: number) => void;
}

/**
 * The upstreams the front listener's URL routes name (Domino's own HTTP task, typically): one
 * pool each, proxied as the gateway proxies, passed through (the upstream authenticates). A
 * reload keeps the pools of the origins it keeps and lets the others finish their requests.
 */
export class FrontUpstreams {
  readonly #options: FrontUpstreamsOptions;
  readonly #byOrigin = new Map<string, ProxyContext>();
  // Not rendered: the keepd_upstream_* series are the product's; these count in keepd_http_requests_total{listener="front"}.
  readonly #metrics = new UpstreamMetrics();

  constructor(options: FrontUpstreamsOptions) {
    this.#options = options;
  }

  /** The handlers of one origin; undefined when no route names it. */
  get(origin: string): { request(req: NodeRequest, res: NodeResponse): void; upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void } | undefined {
    const ctx = this.#byOrigin.get(origin);
    return ctx && { request: (req, res) => proxy(req, res, ctx), upgrade: (req, socket, head) => proxyUpgrade(req, socket, head, ctx) };
  }

  apply(list: readonly UpstreamSettings[]): void {
    const wanted = new Map(list.map((settings) => [settings.origin, settings]));
    for (const [origin, ctx] of this.#byOrigin) {
      const settings = wanted.get(origin);
      if (settings && ctx.upstream.sameAs(settings, undefined)) continue;
      void ctx.upstream.close();
      this.#byOrigin.delete(origin);
    }
    for (const [origin, settings] of wanted) {
      if (!this.#byOrigin.has(origin)) this.#byOrigin.set(origin, { upstream: new Upstream(settings, undefined), gate: this.#options.gate, metrics: this.#metrics, ended: (end) => this.#ended(end), throttleLogins: false });
    }
  }

  #ended(end: ExchangeEnd): void {
    const { log, record } = this.#options;
    record(end.method, end.status, end.seconds);
    if (logs(log, 'debug')) {
      log.debug({ listener: 'front', method: end.method, path: end.url.split('?')[0] ?? '', status: end.status, outcome: end.outcome, ms: Math.round(end.seconds * 10_000) / 10, remoteAddress: end.client, ...(end.failure ? { error: end.failure.message } : {}) }, 'proxied');
    }
  }

  /** keepd is stopping: the listeners have drained; whatever is left is cut. */
  async close(): Promise<void> {
    await Promise.all([...this.#byOrigin.values()].map((ctx) => ctx.upstream.close(true)));
    this.#byOrigin.clear();
  }
}
