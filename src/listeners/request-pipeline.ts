import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VerificationOverloaded } from '../accounts/verification-limiter.js';
import { type ListenerName, type Realm } from '../config/listener-table.js';
import { logs } from '../support/logger.js';
import { Throttled, unauthenticatedReason, unauthorizedBody } from './basic-auth-guard.js';
import type { ListenerContext } from './listener-context.js';

/** How long a browser may remember to use TLS for this host (one year, no subdomains). */
export const HSTS = 'max-age=31536000';

/** Listeners whose answers must never sit in a cache (and every 401, anywhere). */
const NO_STORE_LISTENERS: ReadonlySet<ListenerName> = new Set(['management', 'health']);

export interface PipelineOptions {
  listener: ListenerName;
  realm: Realm;
  tls: boolean;
}

function errorBody(statusCode: number, message: string): { statusCode: number; error: string; message: string } {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** What the guard asks of the pipeline before it looks at a credential. */
export interface Admission {
  /** Sets the answer's headers, logs at trace, and says whether the client is throttled. */
  admit(request: FastifyRequest, reply: FastifyReply): Throttled | undefined;
}

/**
 * What every request on every listener goes through, in order:
 * 1. the Basic-auth guard (basic-auth-guard.ts), which first calls admit(): security headers, a
 *    trace line (headers redacted), the login throttle (429 before any password is looked at);
 * 2. the route (one file per listener);
 * 3. onResponse: request metrics and the debug access log;
 * errors: 401 (one body for all reasons), 429, 503 on verification overload, 4xx as they are,
 * 5xx logged and answered without detail; unknown routes 404 JSON.
 * There are only two hooks on purpose: each Fastify hook costs about a microsecond per request.
 */
export function installRequestPipeline(app: FastifyInstance, ctx: ListenerContext, options: PipelineOptions): Admission {
  const { listener, realm } = options;
  const headers: Record<string, string> = { 'x-content-type-options': 'nosniff' };
  if (options.tls) headers['strict-transport-security'] = HSTS;
  if (NO_STORE_LISTENERS.has(listener)) headers['cache-control'] = 'no-store';

  const admit = (request: FastifyRequest, reply: FastifyReply): Throttled | undefined => {
    void reply.headers(headers);
    if (logs(request.log, 'trace')) {
      request.log.trace({ request: { method: request.method, url: request.url, remoteAddress: request.ip, headers: request.headers } }, 'request received');
    }
    const wait = ctx.throttle(listener).retryAfterSeconds(request.ip);
    return wait === 0 ? undefined : new Throttled(wait);
  };

  app.addHook('onResponse', (request, reply, done) => {
    ctx.metrics.requests.record(listener, request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
    // The access log, at debug level (metrics count and time every request at any level).
    if (logs(request.log, 'debug')) {
      request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, account: request.account?.name, ms: Math.round(reply.elapsedTime * 10) / 10, remoteAddress: request.ip }, 'request');
    }
    done();
  });

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    void reply.headers(headers); // a request refused before admit() (no or bad Authorization header)
    const reason = unauthenticatedReason(error, request);
    if (reason !== undefined) {
      ctx.metrics.unauthenticated.inc({ listener, reason });
      return reply.code(401).header('cache-control', 'no-store').send(unauthorizedBody(realm));
    }
    if (error instanceof Throttled) {
      ctx.metrics.throttled.inc({ listener });
      return reply.code(429).header('retry-after', String(error.retryAfterSeconds)).header('cache-control', 'no-store').send(errorBody(429, error.message));
    }
    if (error instanceof VerificationOverloaded) {
      ctx.metrics.verificationOverload.inc({ listener });
      return reply.code(503).header('retry-after', '1').send(errorBody(503, 'too many new credentials being verified; retry in a second'));
    }
    const statusCode = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (statusCode >= 500) {
      request.log.error({ err: error, method: request.method, url: request.url }, 'request failed');
      return reply.code(statusCode).send(errorBody(statusCode, 'internal error; see the keepd log'));
    }
    return reply.code(statusCode).send(errorBody(statusCode, error.message));
  });

  return { admit };
}

/** Unknown routes: 404 JSON (after the guard: unauthenticated callers get 401 and learn nothing). */
export function installNotFound(app: FastifyInstance, listener: ListenerName): void {
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    void reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0] ?? ''} on the ${listener} listener`));
  });
}
