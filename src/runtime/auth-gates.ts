import { ClientThrottle } from '../accounts/shared-throttle.js';
import type { RedisThrottleStore } from '../accounts/redis-throttle-store.js';
import { VerificationCache } from '../accounts/verification-cache.js';
import type { VerificationLimiter } from '../accounts/verification-limiter.js';
import type { AuthGate } from '../auth/authenticate.js';
import { LISTENERS, perRealmListener, type RealmListener } from '../config/listener-table.js';
import type { KeepdMetrics } from '../metrics/keepd-metrics.js';
import type { PreparedConfig } from './prepare.js';

/**
 * One authentication gate per listener, for the daemon's whole life: accounts, throttle settings
 * and trusted proxies are read from the configuration in use (`active`) at every request; the
 * verification cache and limiter are shared, each listener has a throttle of its own (counted in
 * the shared store `store()` when there is one: loginRateLimit.store).
 */
export function createAuthGates(active: () => PreparedConfig, limiter: VerificationLimiter, metrics: KeepdMetrics, store: () => RedisThrottleStore | undefined): Record<RealmListener, AuthGate> {
  const cache = new VerificationCache();
  return perRealmListener((listener) => ({
    listener,
    realm: LISTENERS[listener].realm,
    accounts: () => active().accounts,
    cache,
    limiter,
    throttle: new ClientThrottle(listener, () => active().loaded.config.loginRateLimit, store),
    metrics,
    trust: () => active().trust,
  }));
}
