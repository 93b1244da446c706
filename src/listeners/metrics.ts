import type { KeepdMetrics } from '../metrics/keepd-metrics.js';
import type { AuthGate } from '../auth/authenticate.js';
import { requireAccount } from './authentication.js';
import type { RouteRegistrar } from './listener-server.js';

export interface MetricsContext {
  readonly auth: AuthGate;
  readonly metrics: KeepdMetrics;
}

/**
 * The metrics listener (METRICSPORT, realm metricsAPI). A request: security headers and Basic
 * auth (authentication.ts), then GET /metrics in the Prometheus text format.
 */
export function metricsRoutes(ctx: MetricsContext): RouteRegistrar {
  return (app, { headers }) => {
    requireAccount(app, ctx.auth, headers);
    app.get('/metrics', async (_request, reply) => {
      const text = await ctx.metrics.render();
      return reply.type(ctx.metrics.contentType).send(text);
    });
  };
}
