import type { Logger } from 'pino';
import { RedisThrottleStore, type ThrottleStoreStatus } from '../accounts/redis-throttle-store.js';
import { redisSettingsOf, sameRedisSettings, type ThrottleStoreSetting } from '../config/throttle-store.js';
import type { KeepdMetrics } from '../metrics/keepd-metrics.js';

export interface StoreSwitchOptions {
  log: Logger;
  metrics: KeepdMetrics;
  /** Something /health reports changed. */
  changed: () => void;
}

/**
 * The login throttle's shared store of the configuration in use (loginRateLimit.store): none for
 * "memory", one Redis client for "redis", shared by every listener's throttle. A reload that
 * changes the setting makes the new client first and then closes the old one: logins in flight on
 * it are counted locally (their running count expires in Redis).
 */
export class ThrottleStoreSwitch {
  readonly #options: StoreSwitchOptions;
  #store: RedisThrottleStore | undefined;

  constructor(options: StoreSwitchOptions) {
    this.#options = options;
  }

  /** Read by every throttle at every login: the store in use now. */
  readonly current = (): RedisThrottleStore | undefined => this.#store;

  apply(setting: ThrottleStoreSetting): void {
    const next = redisSettingsOf(setting);
    if (sameRedisSettings(this.#store?.settings, next)) return;
    const old = this.#store;
    const { log, metrics, changed } = this.#options;
    if (next) {
      const store: RedisThrottleStore = new RedisThrottleStore(next, {
        error: () => metrics.throttleStoreErrors.inc({ store: 'redis' }),
        changed: (transition, status) => {
          if (this.#store !== store) return;
          metrics.throttleStoreUp.set({ store: 'redis' }, status.kind === 'redis' && status.state === 'up' ? 1 : 0);
          changed();
          logTransition(log, transition, status);
        },
      });
      this.#store = store;
      metrics.throttleStoreUp.set({ store: 'redis' }, 0);
      log.info({ throttleStore: store.status() }, `login throttle: counting in Redis at ${describe(store.status())} (shared by every replica); connecting`);
    } else {
      this.#store = undefined;
      metrics.throttleStoreUp.remove({ store: 'redis' });
      log.info('login throttle: counting in this process (loginRateLimit.store "memory")');
    }
    old?.close();
    changed();
  }

  status(): ThrottleStoreStatus {
    return this.#store?.status() ?? { kind: 'memory' };
  }

  /** At shutdown: the connection goes (nothing to wait for: every count has an expiry in Redis). */
  close(): Promise<void> {
    this.#store?.close();
    this.#store = undefined;
    return Promise.resolve();
  }
}

function describe(status: ThrottleStoreStatus): string {
  return status.kind === 'redis' ? status.url : 'memory';
}

function logTransition(log: Logger, transition: 'degraded' | 'recovered' | 'connected' | undefined, status: ThrottleStoreStatus): void {
  const url = describe(status);
  if (transition === 'degraded') {
    const error = status.kind === 'redis' ? status.error : undefined;
    log.warn({ throttleStore: status }, `login throttle: Redis at ${url} failed (${error ?? 'unknown error'}); counting failed logins in this process until it answers again`);
  } else if (transition === 'recovered') {
    log.info({ throttleStore: status }, `login throttle: Redis at ${url} answers again; counting in Redis`);
  } else if (transition === 'connected') {
    log.info({ throttleStore: status }, `login throttle: connected to Redis at ${url}`);
  }
}
