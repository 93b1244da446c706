import type { ListenerName } from '../config/listener-table.js';
import type { KeepdMetrics } from '../metrics/keepd-metrics.js';
import type { AuthGate } from '../auth/authenticate.js';
import type { Gateway } from '../gateway/gateway.js';
import { dataListener } from './data.js';
import { healthRoutes, type HealthContext } from './health.js';
import type { ListenerParts } from './listener-server.js';
import { managementRoutes, type ManagementContext } from './management.js';
import { metricsRoutes } from './metrics.js';

/** Everything the listeners may use, provided by the running daemon. */
export interface ListenerServices extends Omit<HealthContext, 'auth'>, Omit<ManagementContext, 'auth'> {
  auth(listener: ListenerName): AuthGate;
  readonly metrics: KeepdMetrics;
  readonly gateway: Gateway;
}

/**
 * Each listener's routes, each given only what it needs: the data listener cannot read the
 * configuration or stop keepd, the health listener cannot reload.
 */
export function listenerParts(name: ListenerName, services: ListenerServices): ListenerParts {
  const auth = services.auth(name);
  switch (name) {
    case 'data':
      return dataListener({ auth, gateway: services.gateway });
    case 'health':
      return { routes: healthRoutes({ auth, snapshot: () => services.snapshot(), stateVersion: () => services.stateVersion() }) };
    case 'metrics':
      return { routes: metricsRoutes({ auth, metrics: services.metrics }) };
    case 'management':
      return { routes: managementRoutes({
        auth,
        limiter: services.limiter,
        config: () => services.config(),
        snapshot: () => services.snapshot(),
        routes: () => services.routes(),
        reload: (request) => services.reload(request),
        shutdown: (origin) => services.shutdown(origin),
      }) };
  }
}
