import type { Pool } from 'undici';
import type { UpstreamSettings } from '../config/upstream-settings.js';

/**
 * undici, loaded on first use: evaluating it (its HTTP parser is WebAssembly) costs ~50 ms and
 * ~10 MB at start, which a keepd without an upstream should not pay.
 */
let client: typeof import('undici') | undefined;

/** Loads the upstream client; prepare.ts calls it before any configuration with an upstream is used. */
export async function loadUpstreamClient(): Promise<void> {
  client ??= await import('undici');
}

/**
 * The product's data port as keepd talks to it: one undici Pool of kept-alive connections (the
 * fastest HTTP/1.1 client Node has), with the configured connect, response and idle timeouts.
 * A reload that changes the upstream builds a new one and lets this one finish its requests.
 */
export class Upstream {
  readonly settings: UpstreamSettings;
  readonly pool: Pool;
  /** `127.0.0.1:18880`: the Host of requests that came without one. */
  readonly host: string;
  readonly url: URL;
  /** The CA bundle's text (for WebSocket connections, which do not go through the pool). */
  readonly ca: string | undefined;

  constructor(settings: UpstreamSettings, ca: string | undefined) {
    this.settings = settings;
    this.ca = ca;
    this.url = new URL(settings.origin);
    this.host = this.url.host;
    if (!client) throw new Error('the upstream client is not loaded (loadUpstreamClient)');
    this.pool = new client.Pool(settings.origin, {
      connect: { timeout: settings.connectTimeoutMs, ...(ca === undefined ? {} : { ca }) },
      headersTimeout: settings.responseTimeoutMs,
      bodyTimeout: settings.idleTimeoutMs,
      // Idle pooled connections outlive a burst but not the product's own idle close.
      keepAliveTimeout: 10_000,
      // ...whatever Keep-Alive timeout the product announces.
      keepAliveMaxTimeout: 10_000,
    });
  }

  /** The same upstream, so that a reload keeps this pool and its warm connections. */
  sameAs(settings: UpstreamSettings, ca: string | undefined): boolean {
    return JSON.stringify(settings) === JSON.stringify(this.settings) && ca === this.ca;
  }

  /** Finishes the requests under way, then closes; `cut` ends them at once. */
  async close(cut = false): Promise<void> {
    await (cut ? this.pool.destroy() : this.pool.close()).catch(() => undefined);
  }
}
