import type { FrontRoute } from '../config/front-routes.js';
import type { ListenerName, RealmListener } from '../config/listener-table.js';
import type { FrontUpstreams } from '../gateway/front-upstreams.js';
import type { KeepdMetrics } from '../metrics/keepd-metrics.js';
import type { AuthGate } from '../auth/authenticate.js';
import type { Gateway } from '../gateway/gateway.js';
import { PROCESS_LOG_RING, type LogRing } from '../support/log-ring.js';
import { dataListener } from './data.js';
import type { ListenerEntry } from './front-door.js';
import { frontListener } from './front.js';
import { healthRoutes, type HealthContext } from './health.js';
import type { ListenerParts } from './listener-server.js';
import { managementRoutes, type ManagementContext } from './management.js';
import { listedMetricsRoutes, metricsRoutes } from './metrics.js';

/** Everything the listeners may use, provided by the running daemon. */
export interface ListenerServices extends Omit<HealthContext, 'auth'>, Omit<ManagementContext, 'auth' | 'logRing' | 'throttle'> {
  auth(listener: RealmListener): AuthGate;
  /** The recent log lines (GET /log): this process's log unless told. */
  readonly logRing?: LogRing;
  readonly metrics: KeepdMetrics;
  readonly gateway: Gateway;
  /** The front listener's routes in use, the listeners it routes to, and its URL routes' upstreams. */
  frontRoutes(): readonly FrontRoute[];
  entry(name: RealmListener): ListenerEntry | undefined;
  readonly frontUpstreams: FrontUpstreams;
}

/**
 * Each listener's routes, each given only what it needs: the data listener cannot read the
 * configuration or stop keepd, the health listener cannot reload.
 */
export function listenerParts(name: ListenerName, services: ListenerServices): ListenerParts {
  switch (name) {
    case 'data':
      return dataListener({ auth: services.auth(name), gateway: services.gateway });
    case 'health':
      return { routes: healthRoutes({ auth: services.auth(name), snapshot: () => services.snapshot(), stateVersion: () => services.stateVersion() }) };
    case 'metrics':
      return { routes: metricsRoutes({ auth: services.auth(name), metrics: services.metrics, prometheus: () => services.config().config.prometheusMetrics }) };
    case 'management':
      return { routes: managementRoutes({
        auth: services.auth(name),
        limiter: services.limiter,
        config: () => services.config(),
        snapshot: () => services.snapshot(),
        routes: () => {
          const all = services.routes();
          return { ...all, metrics: listedMetricsRoutes(all.metrics, services.config().config.prometheusMetrics) };
        },
        reload: (request) => services.reload(request),
        shutdown: (origin) => services.shutdown(origin),
        logRing: services.logRing ?? PROCESS_LOG_RING,
        stateVersion: () => services.stateVersion(),
        throttle: (listener) => services.auth(listener).throttle,
      }) };
    case 'front':
      return frontListener({
        routes: () => services.frontRoutes(),
        listener: (target) => services.entry(target),
        upstream: (origin) => services.frontUpstreams.get(origin),
        record: (method, status, seconds) => services.metrics.requests.record('front', '/*', method, status, seconds),
      });
  }
}
