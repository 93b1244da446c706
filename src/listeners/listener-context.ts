import type { AccountIndex, Authenticator } from '../accounts/accounts.js';
import type { LoginThrottle } from '../accounts/login-throttle.js';
import type { LoadedConfig } from '../config/assemble.js';
import type { ListenerName } from '../config/listener-table.js';
import type { KeepdMetrics } from '../metrics/keepd-metrics.js';
import type { DaemonSnapshot } from '../runtime/daemon-snapshot.js';
import type { ReloadOutcome } from '../runtime/reload-outcome.js';

export interface RouteEntry {
  method: string;
  url: string;
}

/** What the listeners may ask of the running daemon. Everything is read live, per request. */
export interface ListenerContext {
  readonly authenticator: Authenticator;
  readonly metrics: KeepdMetrics;
  /** Failed logins per client address, for one listener. */
  throttle(listener: ListenerName): LoginThrottle;
  /** The accounts of the configuration in use. */
  accounts(): AccountIndex;
  /** The configuration in use (unmasked: mask before answering). */
  config(): LoadedConfig;
  snapshot(): DaemonSnapshot;
  /** The /health answer, serialized (cached: probes and benchmarks ask many times a second). */
  health(): { statusCode: number; json: string };
  routes(): Record<ListenerName, RouteEntry[]>;
  /**
   * Re-assembles the configuration from disk. When it is valid, `answer` runs first (so that a
   * caller on a listener that is about to be rebound still gets its response) and the change is
   * applied after it; when it is not, nothing changes.
   */
  reload(origin: string, answer?: (outcome: ReloadOutcome) => Promise<void>): Promise<ReloadOutcome>;
  /** Graceful stop: drain in-flight requests, then exit 0. */
  shutdown(origin: string): void;
}
