import type { AuthGate } from '../auth/authenticate.js';
import type { UpstreamMetrics } from '../metrics/upstream-metrics.js';
import type { ExchangeEnd } from './exchange.js';
import type { Upstream } from './upstream.js';

/** Everything one proxied request works with, read live from the running daemon. */
export interface ProxyContext {
  readonly upstream: Upstream;
  /** The data listener's realm, login throttle, trusted proxies and metrics. */
  readonly gate: AuthGate;
  readonly metrics: UpstreamMetrics;
  /**
   * Passthrough mode: count the product's login requests in the login throttle. Off for the front
   * listener's URL routes: their upstream (Domino's HTTP task) is not the product, and counting
   * each of a browser's Basic requests as a login would throttle it.
   */
  readonly throttleLogins: boolean;
  /** After every request: for the listener's request metrics, the health state and the log. */
  readonly ended: (end: ExchangeEnd) => void;
}
