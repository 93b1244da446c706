import type { RouteRegistrar } from './listener-server.js';

/**
 * The health listener (HEALTHCHECKPORT, realm healthcheckAPI): GET and HEAD /health.
 * 200 while every enabled listener is up, 503 otherwise; the body says why (see README).
 */
export const healthRoutes: RouteRegistrar = (app, ctx) => {
  app.get('/health', (_request, reply) => {
    const { statusCode, json } = ctx.health();
    return reply.code(statusCode).type('application/json; charset=utf-8').send(json);
  });
};
