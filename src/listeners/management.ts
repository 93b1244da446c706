import type { FastifyReply } from 'fastify';
import { createSecret, parseSecret, verifyPassword } from '../accounts/secret.js';
import { maskConfig } from '../config/mask.js';
import { listSources } from '../config/provenance.js';
import { infoReport } from '../runtime/daemon-snapshot.js';
import type { ReloadOutcome } from '../runtime/reload-outcome.js';
import type { ListenerContext } from './listener-context.js';
import type { RouteRegistrar } from './listener-server.js';

const plainKey = { type: 'string', minLength: 1, maxLength: 1024 } as const;

const encodeSchema = {
  body: { type: 'object', required: ['shutdownkey'], properties: { shutdownkey: plainKey } },
} as const;
const decodeSchema = {
  body: { type: 'object', required: ['shutdownkey', 'guess'], properties: { shutdownkey: { type: 'string', maxLength: 512 }, guess: { type: 'string', maxLength: 1024 } } },
} as const;

interface EncodeBody {
  shutdownkey: string;
}
interface DecodeBody {
  shutdownkey: string;
  guess: string;
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

  app.post<{ Body: EncodeBody }>('/encode', { schema: encodeSchema }, async (request) => ({
    secret: await createSecret(request.body.shutdownkey),
  }));

  app.post<{ Body: DecodeBody }>('/decode', { schema: decodeSchema }, async (request, reply) => {
    const secret = parseSecret(request.body.shutdownkey.trim());
    if (!secret) {
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: 'shutdownkey is not a salted secret (64 hex digits, a colon, 128 hex digits)' });
    }
    return { match: await verifyPassword(secret, request.body.guess) };
  });

  app.post('/shutdown', async (request, reply) => {
    const stored = ctx.config().config.shutdownkey;
    if (stored !== undefined) {
      const offered = offeredShutdownKey(request.body);
      const secret = parseSecret(stored);
      if (offered === undefined || !secret || !(await verifyPassword(secret, offered))) {
        return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: 'shutdownkey missing or wrong' });
      }
    }
    reply.raw.once('finish', () => ctx.shutdown('POST /shutdown'));
    return reply.code(202).send({ status: 'stopping', drainTimeoutSeconds: ctx.config().config.drainTimeoutSeconds });
  });

  app.post('/restart', (_request, reply) => reloadRoute(ctx, 'POST /restart', reply));
  app.post('/reload', (_request, reply) => reloadRoute(ctx, 'POST /reload', reply));
};
