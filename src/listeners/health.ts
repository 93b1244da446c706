import type { AuthGate } from '../auth/authenticate.js';
import { requireAccount } from './authentication.js';
import type { RouteRegistrar } from './listener-server.js';
import { healthReport, readinessReport, type DaemonSnapshot } from './status-reports.js';

export interface HealthContext {
  readonly auth: AuthGate;
  /** The daemon's state now. */
  snapshot(): DaemonSnapshot;
  /** Bumped whenever something /health reports changes. */
  stateVersion(): number;
}

/**
 * The /health answer, serialized once per state version and second: probes and benchmarks ask
 * many times a second, and the report (certificate days, timestamps) changes at most that often.
 */
export class HealthCache {
  #key = '';
  #answer = { statusCode: 200, json: '' };

  constructor(private readonly ctx: Omit<HealthContext, 'auth'>) {}

  answer(now = Date.now()): { statusCode: number; json: string } {
    const key = `${this.ctx.stateVersion()}:${Math.floor(now / 1000)}`;
    if (this.#key !== key) {
      const report = healthReport(this.ctx.snapshot(), now);
      this.#answer = { statusCode: report.statusCode, json: JSON.stringify(report.body) };
      this.#key = key;
    }
    return this.#answer;
  }
}

/**
 * The health listener (HEALTHCHECKPORT, realm healthcheckAPI). A request: security headers and
 * Basic auth (authentication.ts), then GET/HEAD /health: 200 while every enabled listener is up
 * (and the product, with an upstream), 503 otherwise, the body says why; /health/live: keepd
 * answers; /health/ready: keepd and the product can serve (docs/endpoints.md).
 */
export function healthRoutes(ctx: HealthContext): RouteRegistrar {
  const cache = new HealthCache(ctx);
  return (app, { headers }) => {
    requireAccount(app, ctx.auth, headers);
    // The product's quickstart links http://localhost:8886/: an index of this listener's routes.
    app.get('/', () => ({
      listener: 'health',
      routes: [
        { method: 'GET', path: '/health', description: 'every part keepd runs, 200 when all are up, 503 otherwise' },
        { method: 'GET', path: '/health/live', description: 'liveness: keepd answers' },
        { method: 'GET', path: '/health/ready', description: 'readiness: keepd and the product can serve' },
      ],
    }));
    app.get('/health', (_request, reply) => {
      const { statusCode, json } = cache.answer();
      return reply.code(statusCode).type('application/json; charset=utf-8').send(json);
    });
    // Liveness: answering at all is the proof; restarting keepd would not bring the product back.
    app.get('/health/live', () => ({ status: 'alive', checkedAt: new Date().toISOString() }));
    app.get('/health/ready', (_request, reply) => {
      const { statusCode, body } = readinessReport(ctx.snapshot());
      return reply.code(statusCode).send(body);
    });
  };
}
