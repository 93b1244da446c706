import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { createSecret, parseSecret, verifyPassword } from '../accounts/secret.js';
import { maskConfig } from '../config/mask.js';
import { listSources } from '../config/provenance.js';
import { infoReport } from '../runtime/daemon-snapshot.js';
import type { ReloadOutcome } from '../runtime/reload-outcome.js';
import type { ListenerContext } from './listener-context.js';
import type { RouteRegistrar } from './listener-server.js';

/*
 * Bodies are checked with zod (already loaded for the configuration) rather than route JSON
 * schemas: those would make each Fastify instance compile an Ajv validator at start-up.
 */
const encodeBody = z.object({ shutdownkey: z.string().min(1).max(1024) }, { error: 'expected {"shutdownkey": "<plain text>"}' });
const decodeBody = z.object({ shutdownkey: z.string().max(512), guess: z.string().max(1024) }, { error: 'expected {"shutdownkey": "<HASH:SALT>", "guess": "<plain text>"}' });

/** The body as `schema` wants it, or a 400 already sent. */
function bodyOf<T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  void reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `${where}${issue?.message ?? 'invalid body'}` });
  return undefined;
}

/** The shutdown key offered in a body that may be absent (no key configured: `curl -X POST` suffices). */
function offeredShutdownKey(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('shutdownkey' in body)) return undefined;
  return typeof body.shutdownkey === 'string' ? body.shutdownkey : undefined;
}

/** Resolves once the response has left (or the connection is gone). */
function sent(reply: FastifyReply, status: number, body: object): Promise<void> {
  return new Promise((resolve) => {
    reply.raw.once('finish', resolve);
    reply.raw.once('close', resolve);
    void reply.code(status).send(body);
  });
}

async function reloadRoute(ctx: ListenerContext, origin: string, reply: FastifyReply): Promise<FastifyReply | undefined> {
  // A valid reload answers before it is applied: the listener serving this request may be rebound.
  const outcome: ReloadOutcome = await ctx.reload(origin, (planned) => sent(reply, 200, planned));
  if (reply.sent) return undefined;
  return reply.code(outcome.status === 'rejected' ? 422 : 200).send(outcome);
}

/**
 * The management listener (MANAGMENTPORT, realm managementAPI): configuration, runtime
 * information, routes, the salting utility, shutdown and reload. Bodies are documented in the README.
 */
export const managementRoutes: RouteRegistrar = (app, ctx) => {
  app.get('/config', (request) => {
    const { merged, sources } = ctx.config();
    const masked = maskConfig(merged);
    const query = request.query as Record<string, unknown> | undefined;
    return query !== undefined && 'sources' in query ? listSources(masked, sources) : masked;
  });

  app.get('/info', () => infoReport(ctx.snapshot()));

  app.get('/routes', () => ctx.routes());

  app.post('/encode', async (request, reply) => {
    const body = bodyOf(encodeBody, request.body, reply);
    // Through the verification limiter like logins: PBKDF2 here must not crowd them out either.
    return body ? { secret: await ctx.authenticator.limiter.run(() => createSecret(body.shutdownkey)) } : reply;
  });

  app.post('/decode', async (request, reply) => {
    const body = bodyOf(decodeBody, request.body, reply);
    if (!body) return reply;
    const secret = parseSecret(body.shutdownkey.trim());
    if (!secret) {
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: 'shutdownkey is not a salted secret (64 hex digits, a colon, 128 hex digits)' });
    }
    return { match: await ctx.authenticator.limiter.run(() => verifyPassword(secret, body.guess)) };
  });

  app.post('/shutdown', async (request, reply) => {
    const stored = ctx.config().config.shutdownkey;
    if (stored !== undefined) {
      const offered = offeredShutdownKey(request.body);
      const secret = parseSecret(stored);
      if (offered === undefined || !secret || !(await ctx.authenticator.limiter.run(() => verifyPassword(secret, offered)))) {
        return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: 'shutdownkey missing or wrong' });
      }
    }
    reply.raw.once('finish', () => ctx.shutdown('POST /shutdown'));
    return reply.code(202).send({ status: 'stopping', drainTimeoutSeconds: ctx.config().config.drainTimeoutSeconds });
  });

  app.post('/restart', (_request, reply) => reloadRoute(ctx, 'POST /restart', reply));
  app.post('/reload', (_request, reply) => reloadRoute(ctx, 'POST /reload', reply));
};
