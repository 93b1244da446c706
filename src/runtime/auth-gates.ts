import { LoginThrottle } from '../accounts/login-throttle.js';
import { VerificationCache } from '../accounts/verification-cache.js';
import type { VerificationLimiter } from '../accounts/verification-limiter.js';
import type { AuthGate } from '../auth/authenticate.js';
import { LISTENERS, perRealmListener, type RealmListener } from '../config/listener-table.js';
import type { KeepdMetrics } from '../metrics/keepd-metrics.js';
import type { PreparedConfig } from './prepare.js';

/**
 * One authentication gate per listener, for the daemon's whole life: accounts, throttle settings
 * and trusted proxies are read from the configuration in use (`active`) at every request; the
 * verification cache and limiter are shared, each listener has a throttle of its own.
 */
export function createAuthGates(active: () => PreparedConfig, limiter: VerificationLimiter, metrics: KeepdMetrics): Record<RealmListener, AuthGate> {
  const cache = new VerificationCache();
  return perRealmListener((listener) => ({
    listener,
    realm: LISTENERS[listener].realm,
    accounts: () => active().accounts,
    cache,
    limiter,
    throttle: new LoginThrottle(() => active().loaded.config.loginRateLimit),
    metrics,
    trust: () => active().trust,
  }));
}
