import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VerificationOverloaded } from '../accounts/verification-limiter.js';
import type { ListenerName } from '../config/listener-names.js';
import type { Realm } from '../config/schema.js';
import { unauthenticatedReason, unauthorizedBody } from './basic-auth-guard.js';
import type { ListenerContext } from './listener-context.js';

/** How long a browser may remember to use TLS for this host (one year, no subdomains). */
export const HSTS = 'max-age=31536000';

/** Answers that must never sit in a cache: everything on these listeners, and every 401. */
const NO_STORE_LISTENERS: ReadonlySet<ListenerName> = new Set(['management', 'health']);

export interface PipelineOptions {
  listener: ListenerName;
  realm: Realm;
  tls: boolean;
  /** True once the listener drains: answers then close their connection. */
  closing: () => boolean;
}

function errorBody(statusCode: number, message: string): { statusCode: number; error: string; message: string } {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/**
 * What every request on every listener goes through, in order:
 * 1. onRequest: a trace line (headers redacted), the login throttle (429 before any password is looked at), then the Basic-auth
 *    guard (registered after this, see basic-auth-guard.ts);
 * 2. the route (one file per listener);
 * 3. onSend: security headers; onResponse: request metrics and the debug access log;
 * errors: 401 (one body for all reasons), 429, 503 on verification overload, 4xx as they are,
 * 5xx logged and answered without detail; unknown routes 404 JSON.
 */
export function installRequestPipeline(app: FastifyInstance, ctx: ListenerContext, options: PipelineOptions): void {
  const { listener, realm } = options;

  app.addHook('onRequest', (request, reply, done) => {
    // Headers only at trace level, and redacted (authorization) by the logger, see logger.ts.
    request.log.trace({ request: { method: request.method, url: request.url, remoteAddress: request.ip, headers: request.headers } }, 'request received');
    const wait = ctx.throttle(listener).retryAfterSeconds(request.ip);
    if (wait === 0) {
      done();
      return;
    }
    ctx.metrics.throttled.inc({ listener });
    void reply
      .code(429)
      .header('retry-after', String(wait))
      .send(errorBody(429, `too many failed logins from this address; retry in ${wait} s`));
  });

  app.addHook('onSend', (_request, reply, payload, done) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (options.tls) void reply.header('strict-transport-security', HSTS);
    if (NO_STORE_LISTENERS.has(listener) || reply.statusCode === 401) void reply.header('cache-control', 'no-store');
    // While draining, close kept-alive connections after their answer, or the drain waits them out.
    if (options.closing()) void reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const labels = { listener, route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) };
    ctx.metrics.requests.inc(labels);
    ctx.metrics.requestDuration.observe(labels, reply.elapsedTime / 1000);
    // The access log, at debug level (metrics count and time every request at any level).
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, account: request.account?.name, ms: Math.round(reply.elapsedTime * 10) / 10, remoteAddress: request.ip }, 'request');
    done();
  });

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const reason = unauthenticatedReason(error, request);
    if (reason !== undefined) {
      ctx.metrics.unauthenticated.inc({ listener, reason });
      if (reason === 'unknown_user' || reason === 'wrong_password' || reason === 'inactive') ctx.throttle(listener).recordFailure(request.ip);
      return reply.code(401).send(unauthorizedBody(realm));
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
}

/** Unknown routes: 404 JSON (after the guard: unauthenticated callers get 401 and learn nothing). */
export function installNotFound(app: FastifyInstance, listener: ListenerName): void {
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    void reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0] ?? ''} on the ${listener} listener`));
  });
}
