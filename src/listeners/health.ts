import { healthReport } from '../runtime/daemon-snapshot.js';
import type { RouteRegistrar } from './listener-server.js';

/**
 * The health listener (HEALTHCHECKPORT, realm healthcheckAPI): GET and HEAD /health.
 * 200 while every enabled listener is up, 503 otherwise; the body says why (see README).
 */
export const healthRoutes: RouteRegistrar = (app, ctx) => {
  app.get('/health', (_request, reply) => {
    const report = healthReport(ctx.snapshot());
    return reply.code(report.statusCode).send(report.body);
  });
};
