import type { ListenerName } from '../config/listener-table.js';
import { dataRoutes } from './data.js';
import { healthRoutes } from './health.js';
import type { RouteRegistrar } from './listener-server.js';
import { managementRoutes } from './management.js';
import { metricsRoutes } from './metrics.js';

/** Which routes each listener serves; each file documents its listener. */
export const LISTENER_ROUTES: Record<ListenerName, RouteRegistrar> = {
  data: dataRoutes,
  health: healthRoutes,
  management: managementRoutes,
  metrics: metricsRoutes,
};
