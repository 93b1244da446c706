import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Throttle } from '../accounts/shared-throttle.js';
import type { LoadedConfig } from '../config/assemble.js';
import { REALM_LISTENERS, type RealmListener } from '../config/listener-table.js';
import { maskConfig } from '../config/mask.js';
import { listSources } from '../config/provenance.js';
import { LEVEL_VALUES, LOG_RING_LINES, type LogRing, type RingLevel } from '../support/log-ring.js';
import { errorBody } from '../support/http-answers.js';
import { closeStreamsOnClose, MAX_STREAMS, openEventStream, streamsFull } from './event-stream.js';

/*
 * The management routes the console (issue 13) calls besides /config, /info, /routes and
 * /reload: the recent log (GET /log, GET /log/stream), state changes (GET /events), the throttled
 * clients (GET /throttled, POST /throttled/release) and the configuration's sources
 * (GET /config/sources). Behind the management realm like every route of the listener.
 */

export interface ConsoleApiContext {
  readonly logRing: LogRing;
  config(): LoadedConfig;
  /** Bumped on every change the daemon reports (listeners, reloads, certificates, upstream health). */
  stateVersion(): number;
  throttle(listener: RealmListener): Throttle;
}

/** How often GET /events looks at the state version while a client listens. */
export const STATE_POLL_MS = 250;

const levelQuery = z.enum(Object.keys(LEVEL_VALUES) as [RingLevel, ...RingLevel[]], { error: 'level: one of trace, debug, info, warn, error, fatal' }).default('info');
const logQuery = z.object({
  level: levelQuery,
  limit: z.coerce.number({ error: 'limit: a whole number from 1 to 1000' }).int().min(1).max(LOG_RING_LINES).default(200),
});
const streamQuery = z.object({ level: levelQuery, after: z.coerce.number({ error: 'after: a line number from GET /log\'s lastId' }).int().min(0).optional() });
const releaseBody = z.object({ listener: z.enum(REALM_LISTENERS), address: z.string().min(1).max(100) }, { error: 'expected {"listener": "<data|health|management|metrics>", "address": "<client address>"}' });

function badRequest(reply: FastifyReply, issue: z.core.$ZodIssue | undefined): FastifyReply {
  const where = issue && issue.path.length > 0 && !issue.message.startsWith(`${issue.path.join('.')}:`) ? `${issue.path.join('.')}: ` : '';
  return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `${where}${issue?.message ?? 'invalid request'}` });
}

/** Parsed, or a 400 sent (`undefined`). */
function parse<T>(schema: z.ZodType<T>, value: unknown, reply: FastifyReply): T | undefined {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  badRequest(reply, parsed.error.issues[0]);
  return undefined;
}

/** Every leaf of the effective configuration, masked as GET /config masks it, with the layer that set it. */
export function configSources(loaded: LoadedConfig): { key: string; value: unknown; source: string }[] {
  return Object.entries(listSources(maskConfig(loaded.merged), loaded.sources)).map(([key, { value, source }]) => ({ key, value, source }));
}

/**
 * The clients refused right now, on every listener with a realm (with a shared store: on every
 * replica). `complete` false: Redis could not be asked, and other replicas' blocks are missing.
 */
export async function throttledClients(ctx: Pick<ConsoleApiContext, 'throttle'>): Promise<{ clients: { listener: RealmListener; address: string; failures: number; blockedUntil: string }[]; complete: boolean }> {
  const lists = await Promise.all(REALM_LISTENERS.map(async (listener) => ({ listener, list: await ctx.throttle(listener).blockedList() })));
  return {
    clients: lists.flatMap(({ listener, list }) => list.clients.map(({ address, failures, blockedUntil }) => ({ listener, address, failures, blockedUntil: blockedUntil.toISOString() }))),
    complete: lists.every(({ list }) => list.complete),
  };
}

/** What a release that could not reach the shared store tells the admin (503: it is not done everywhere). */
const RELEASE_UNAVAILABLE = {
  'released-here-only': 'released on this replica only: the shared store (Redis) is unavailable, so the other replicas still refuse it; release it again once GET /health shows components.throttleStore up',
  'store-unavailable': 'cannot release: the shared store (Redis) is unavailable and this replica has no block for it; retry once GET /health shows components.throttleStore up',
} as const;

function tooMany(reply: FastifyReply): FastifyReply {
  return reply.code(503).header('retry-after', '5').send(errorBody(503, `${MAX_STREAMS} event streams are open on this listener already; close one (a console tab) and retry`));
}

export function registerConsoleApi(app: FastifyInstance, ctx: ConsoleApiContext): void {
  closeStreamsOnClose(app);

  app.get('/log', (request, reply) => {
    const query = parse(logQuery, request.query, reply);
    if (!query) return reply;
    const lines = ctx.logRing.recent(LEVEL_VALUES[query.level], query.limit);
    // The lines are JSON already: joined, not parsed and serialized again.
    // lastId: where GET /log/stream?after= picks up, so a page that shows these lines gets each once.
    return reply.type('application/json; charset=utf-8').send(`{"lines":[${lines.map((line) => line.json).join(',')}],"lastId":${ctx.logRing.lastSeq}}`);
  });

  app.get('/log/stream', (request, reply) => {
    const query = parse(streamQuery, request.query, reply);
    if (!query) return reply;
    if (streamsFull(app)) return tooMany(reply);
    const min = LEVEL_VALUES[query.level];
    // An EventSource reconnecting (the listener was rebound, say) gets only the lines it has not seen.
    const lastId = Number(request.headers['last-event-id'] ?? query.after);
    const after = Number.isSafeInteger(lastId) && lastId > 0 ? lastId : 0;
    // Log lines are for accounts of the configuration in use: a reload ends the stream, and an
    // EventSource reconnects (authenticating again) from its Last-Event-ID, losing no line.
    const loaded = ctx.config();
    const events = openEventStream(app, reply, () => ctx.config() === loaded);
    for (const line of ctx.logRing.recent(min, LOG_RING_LINES, after)) events.send('log', line.json, line.seq);
    events.onClose(ctx.logRing.subscribe((line) => line.level >= min && events.send('log', line.json, line.seq)));
    return reply;
  });

  app.get('/events', (_request, reply) => {
    if (streamsFull(app)) return tooMany(reply);
    // Only a version number: nothing an account that was since removed should not see.
    const events = openEventStream(app, reply);
    let seen = ctx.stateVersion();
    events.send('state', JSON.stringify({ stateVersion: seen }));
    const poll = setInterval(() => {
      const now = ctx.stateVersion();
      if (now === seen) return;
      seen = now;
      events.send('state', JSON.stringify({ stateVersion: now }));
    }, STATE_POLL_MS);
    poll.unref();
    events.onClose(() => clearInterval(poll));
    return reply;
  });

  app.get('/throttled', async () => {
    const { clients, complete } = await throttledClients(ctx);
    return complete ? { clients, complete } : { clients, complete, note: 'the shared store (Redis) is unavailable: only the blocks this replica knows are listed' };
  });

  app.post('/throttled/release', async (request, reply) => {
    const body = parse(releaseBody, request.body, reply);
    if (!body) return reply;
    // With a shared store the release is for every replica (the keys in Redis go).
    const outcome = await ctx.throttle(body.listener).release(body.address);
    if (outcome === 'not-found') {
      return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no throttled client ${body.address} on the ${body.listener} listener` });
    }
    if (outcome !== 'released') {
      request.log.warn({ throttledListener: body.listener, address: body.address }, `${body.address} on the ${body.listener} listener: ${RELEASE_UNAVAILABLE[outcome]}`);
      return reply.code(503).header('retry-after', '5').send(errorBody(503, RELEASE_UNAVAILABLE[outcome]));
    }
    request.log.info({ throttledListener: body.listener, address: body.address }, `released throttled client ${body.address} on the ${body.listener} listener`);
    return { released: true };
  });

  app.get('/config/sources', () => ({ entries: configSources(ctx.config()) }));
}
