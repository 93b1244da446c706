import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { createSecret, parseSecret, verifyPassword } from '../accounts/secret.js';
import { matchesShutdownKey } from '../accounts/shutdown-key.js';
import { maskConfig } from '../config/mask.js';
import { listSources } from '../config/provenance.js';
import type { VerificationLimiter } from '../accounts/verification-limiter.js';
import type { LoadedConfig } from '../config/assemble.js';
import type { ListenerName } from '../config/listener-table.js';
import type { AuthGate } from '../auth/authenticate.js';
import { requireAccount } from './authentication.js';
import { crossSiteRefusal } from './cross-site.js';
import { errorBody } from '../support/http-answers.js';
import { registerConsole } from './console.js';
import type { RouteEntry, RouteRegistrar } from './listener-server.js';
import { registerConsoleApi, type ConsoleApiContext } from './management-console-routes.js';
import type { ReloadOutcome, ReloadRequest } from './reload-outcome.js';
import { infoReport, type DaemonSnapshot } from './status-reports.js';
import { registerSupportPackage, type SupportContext } from './support-package.js';

/** What the management listener may ask of the running daemon; read live, per request. */
export interface ManagementContext extends ConsoleApiContext, SupportContext {
  readonly auth: AuthGate;
  /** Bounds PBKDF2 work: /encode, /decode and /shutdown share it with the logins. */
  readonly limiter: VerificationLimiter;
  /** The configuration in use (unmasked: mask before answering). */
  config(): LoadedConfig;
  snapshot(): DaemonSnapshot;
  routes(): Record<ListenerName, RouteEntry[]>;
  /**
   * Re-assembles the configuration from disk. When it is valid, `answer` runs first (so that a
   * caller on a listener that is about to be rebound still gets its response) and the change is
   * applied after it; when it is not, nothing changes.
   */
  reload(request: ReloadRequest): Promise<ReloadOutcome>;
  /** Graceful stop: drain in-flight requests, then exit 0. */
  shutdown(origin: string): void;
}

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
    // The client may be gone already (while a key was verified): then there is nothing to wait for.
    const socket = reply.raw.socket;
    if (reply.raw.destroyed || socket === null || socket.destroyed) {
      resolve();
      return;
    }
    reply.raw.once('finish', resolve);
    reply.raw.once('close', resolve);
    void reply.code(status).send(body);
  });
}

async function reloadRoute(ctx: ManagementContext, origin: string, reply: FastifyReply): Promise<FastifyReply | undefined> {
  // A valid reload answers before it is applied when the listener serving this request is rebound.
  const outcome: ReloadOutcome = await ctx.reload({ trigger: 'api', origin, answer: (planned) => sent(reply, 200, planned) });
  if (reply.sent) return undefined;
  return reply.code(outcome.status === 'rejected' ? 422 : 200).send(outcome);
}

/**
 * The management listener (MANAGMENTPORT, realm managementAPI). A request: security headers and
 * Basic auth (authentication.ts), then one of: configuration, runtime information, routes, the
 * salting utility, shutdown and reload. Bodies are documented in docs/endpoints.md.
 */
export const managementRoutes = (ctx: ManagementContext): RouteRegistrar => (app, { headers }) => {
  // Before authentication: a browser's cached console credentials must not act for another site (cross-site.ts).
  app.addHook('onRequest', (request, reply, done) => {
    const refusal = crossSiteRefusal(request.method, request.headers);
    if (refusal === undefined) return done();
    void reply.code(403).headers(headers).send(errorBody(403, `${refusal} is refused: management actions are taken from the console's own page or a script`));
  });
  requireAccount(app, ctx.auth, headers);
  registerConsole(app); // the console (GET /, /console/*): console.ts
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
    return body ? { secret: await ctx.limiter.run(() => createSecret(body.shutdownkey)) } : reply;
  });

  app.post('/decode', async (request, reply) => {
    const body = bodyOf(decodeBody, request.body, reply);
    if (!body) return reply;
    const secret = parseSecret(body.shutdownkey.trim());
    if (!secret) {
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: 'shutdownkey is not a salted secret (64 hex digits, a colon, 128 hex digits)' });
    }
    return { match: await ctx.limiter.run(() => verifyPassword(secret, body.guess)) };
  });

  app.post('/shutdown', async (request, reply) => {
    const stored = ctx.config().config.shutdownkey;
    if (stored !== undefined) {
      // Salted or plain (matchesShutdownKey); the product scripts' `StopServer` is ignored: keepd has no Domino to stop.
      const offered = offeredShutdownKey(request.body);
      if (offered === undefined || !(await matchesShutdownKey(stored, offered, (work) => ctx.limiter.run(work)))) {
        return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: 'shutdownkey missing or wrong' });
      }
    }
    // Authorized: the stop begins once the answer is out, or the client is gone, whichever comes first.
    await sent(reply, 202, { status: 'stopping', drainTimeoutSeconds: ctx.config().config.drainTimeoutSeconds });
    ctx.shutdown('POST /shutdown');
    return reply;
  });

  // No shutdown key needed: a reload cannot stop keepd (an invalid configuration is refused, the old one serves);
  // a key sent along, as the product's collection does, is ignored.
  app.post('/restart', (_request, reply) => reloadRoute(ctx, 'POST /restart', reply));
  app.post('/reload', (_request, reply) => reloadRoute(ctx, 'POST /reload', reply));

  // For the console: /log, /log/stream, /events, /throttled, /throttled/release, /config/sources; /support.
  registerConsoleApi(app, ctx);
  registerSupportPackage(app, ctx);
};
