import type { Upstream } from './upstream.js';
import { classifyFailure } from './failures.js';

/** The product as /health reports it (the `upstream` component). */
export interface UpstreamStatus {
  url: string;
  /** undefined until the first probe or request says. */
  reachable: boolean | undefined;
  latencyMs: number | undefined;
  lastError: string | undefined;
  lastErrorAt: Date | undefined;
  checkedAt: Date | undefined;
}

/**
 * Is the product there? An active probe (GET probe.path every probe.intervalSeconds: any HTTP
 * answer, even a 401 or 404, means its data port works) plus what real requests show in between,
 * so that /health and keepd_upstream_up see an outage at the first failed request, and the
 * recovery at the first good one.
 */
export class UpstreamHealth {
  #status: UpstreamStatus;
  #timer: NodeJS.Timeout | undefined;
  #probing = false;
  #stopped = false;
  readonly #upstream: Upstream;
  readonly #changed: (status: UpstreamStatus, previous: boolean | undefined) => void;

  constructor(upstream: Upstream, changed: (status: UpstreamStatus, previous: boolean | undefined) => void) {
    this.#upstream = upstream;
    this.#changed = changed;
    this.#status = { url: upstream.settings.origin, reachable: undefined, latencyMs: undefined, lastError: undefined, lastErrorAt: undefined, checkedAt: undefined };
  }

  get status(): UpstreamStatus {
    return this.#status;
  }

  start(): void {
    void this.probe();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** One probe now; the next one is scheduled after it. */
  async probe(): Promise<void> {
    if (this.#probing || this.#stopped) return;
    this.#probing = true;
    clearTimeout(this.#timer);
    const { settings, pool } = this.#upstream;
    const started = performance.now();
    try {
      const answer = await pool.request({ method: 'GET', path: settings.probe.path, headers: { 'user-agent': 'keepd-probe' }, headersTimeout: settings.probe.timeoutMs, bodyTimeout: settings.probe.timeoutMs });
      await answer.body.dump();
      this.reached(performance.now() - started);
    } catch (error) {
      const failure = classifyFailure(error, settings, { connectMs: settings.connectTimeoutMs, responseMs: settings.probe.timeoutMs, idleMs: settings.probe.timeoutMs });
      this.failed(failure.message);
    } finally {
      this.#probing = false;
      this.#schedule(settings.probe.intervalMs);
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.probe(), delayMs);
    this.#timer.unref();
  }

  /** The product answered (a probe, or a proxied request). */
  reached(latencyMs: number | undefined): void {
    const previous = this.#status.reachable;
    // Every good proxied request lands here: nothing to do unless it is news.
    if (previous === true && latencyMs === undefined) return;
    this.#status = { ...this.#status, reachable: true, latencyMs: latencyMs === undefined ? this.#status.latencyMs : Math.round(latencyMs * 10) / 10, checkedAt: new Date() };
    if (previous !== true) this.#changed(this.#status, previous);
  }

  /** The product could not be reached or did not answer in time. */
  failed(message: string): void {
    const previous = this.#status.reachable;
    const now = new Date();
    this.#status = { ...this.#status, reachable: false, lastError: message, lastErrorAt: now, checkedAt: now };
    if (previous !== false) this.#changed(this.#status, previous);
  }
}
