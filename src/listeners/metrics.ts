import type { KeepdMetrics } from '../metrics/keepd-metrics.js';
import type { AuthGate } from '../auth/authenticate.js';
import { errorBody } from '../support/http-answers.js';
import { requireAccount } from './authentication.js';
import type { RouteEntry, RouteRegistrar } from './listener-server.js';

/** The product's `prometheusMetrics` keys, read live (a reload changes them without a rebind). */
export interface PrometheusSettings {
  readonly enabled: boolean;
  readonly endpoint: string;
}

export interface MetricsContext {
  readonly auth: AuthGate;
  readonly metrics: KeepdMetrics;
  prometheus(): PrometheusSettings;
}

/**
 * The metrics listener (METRICSPORT, realm metricsAPI). A request: security headers and Basic
 * auth (authentication.ts), then GET `prometheusMetrics.endpoint` (default /metrics) in the
 * Prometheus text format. With `prometheusMetrics.enabled` false the listener still runs (its
 * account, /health's view of it and GET / stay), and the scrape path answers 404 like any unknown one.
 * The path is matched per request, so that a reload moves or closes it at once.
 */
export function metricsRoutes(ctx: MetricsContext): RouteRegistrar {
  return (app, { headers }) => {
    requireAccount(app, ctx.auth, headers);
    // The product's quickstart links http://localhost:8890/: an index of this listener's routes (none while disabled).
    app.get('/', () => {
      const { enabled, endpoint } = ctx.prometheus();
      const routes = enabled ? [{ method: 'GET', path: endpoint, description: 'Prometheus text format' }] : [];
      return { listener: 'metrics', routes, ...(enabled ? {} : { note: 'prometheusMetrics.enabled is false' }) };
    });
    app.get('/*', async (request, reply) => {
      const { enabled, endpoint } = ctx.prometheus();
      const path = request.url.split('?')[0] ?? '';
      if (!enabled || path !== endpoint) {
        const why = enabled ? '' : ' (prometheusMetrics.enabled is false)';
        return reply.code(404).send(errorBody(404, `no route ${request.method} ${path} on the metrics listener${why}`));
      }
      const text = await ctx.metrics.render();
      return reply.type(ctx.metrics.contentType).send(text);
    });
  };
}

/** The metrics listener's routes as GET /routes shows them: the scrape's `/*` as the path it serves now (none while disabled). */
export function listedMetricsRoutes(routes: readonly RouteEntry[], prometheus: PrometheusSettings): RouteEntry[] {
  return routes.flatMap((route) => (route.url !== '/*' ? [route] : prometheus.enabled ? [{ ...route, url: prometheus.endpoint }] : []));
}
