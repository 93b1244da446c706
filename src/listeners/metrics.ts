import type { RouteRegistrar } from './listener-server.js';

/** The metrics listener (METRICSPORT, realm metricsAPI): GET /metrics in Prometheus text format. */
export const metricsRoutes: RouteRegistrar = (app, ctx) => {
  app.get('/metrics', async (_request, reply) => {
    const text = await ctx.metrics.render();
    return reply.type(ctx.metrics.contentType).send(text);
  });
};
