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
  /** After every request: for the listener's request metrics, the health state and the log. */
  readonly ended: (end: ExchangeEnd) => void;
}
