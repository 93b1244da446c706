import type { ListenerName } from '../config/listener-table.js';
import type { KeepdMetrics } from '../metrics/keepd-metrics.js';
import type { AuthGate } from './authentication.js';
import { dataRoutes } from './data.js';
import { healthRoutes, type HealthContext } from './health.js';
import type { RouteRegistrar } from './listener-server.js';
import { managementRoutes, type ManagementContext } from './management.js';
import { metricsRoutes } from './metrics.js';

/** Everything the listeners may use, provided by the running daemon. */
export interface ListenerServices extends Omit<HealthContext, 'auth'>, Omit<ManagementContext, 'auth'> {
  auth(listener: ListenerName): AuthGate;
  readonly metrics: KeepdMetrics;
}

/**
 * Each listener's routes, each given only what it needs: the data listener cannot read the
 * configuration or stop keepd, the health listener cannot reload.
 */
export function listenerRoutes(name: ListenerName, services: ListenerServices): RouteRegistrar {
  const auth = services.auth(name);
  switch (name) {
    case 'data':
      return dataRoutes({ auth });
    case 'health':
      return healthRoutes({ auth, snapshot: () => services.snapshot(), stateVersion: () => services.stateVersion() });
    case 'metrics':
      return metricsRoutes({ auth, metrics: services.metrics });
    case 'management':
      return managementRoutes({
        auth,
        limiter: services.limiter,
        config: () => services.config(),
        snapshot: () => services.snapshot(),
        routes: () => services.routes(),
        reload: (request) => services.reload(request),
        shutdown: (origin) => services.shutdown(origin),
      });
  }
}
