import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../accounts/accounts.js';
import { authenticate, refusalResponse, type AuthGate, type AuthOutcome, type Refusal } from '../auth/authenticate.js';
import { clientAddress } from '../config/trusted-proxies.js';
import { logs, maskQuery } from '../support/logger.js';

/* Fastify's side of authentication (auth/authenticate.ts decides): the hook and the reply. */

declare module 'fastify' {
  interface FastifyRequest {
    /** The functional account that authenticated this request. */
    account: Account | null;
  }
}

/** A refusal as a Fastify reply. */
export function answer(gate: AuthGate, reply: FastifyReply, refusal: Refusal): FastifyReply {
  const { statusCode, headers, body } = refusalResponse(gate, refusal);
  return reply.code(statusCode).headers(headers).send(body);
}

/**
 * Every route of the app requires an account of the gate's realm: one onRequest hook that sets
 * the security headers, logs the request at trace (headers redacted by the logger), and
 * authenticates. A cached credential passes without a promise.
 */
export function requireAccount(app: FastifyInstance, gate: AuthGate, headers: Readonly<Record<string, string>>): void {
  app.decorateRequest('account', null);
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    void reply.headers(headers);
    const client = clientAddress(request.socket.remoteAddress ?? '', request.headers['x-forwarded-for'], gate.trust());
    if (logs(request.log, 'trace')) {
      // The query string may carry a token or a password: its values are not logged.
      request.log.trace({ request: { method: request.method, url: maskQuery(request.url), remoteAddress: client, headers: request.headers } }, 'request received');
    }
    const settle = (outcome: AuthOutcome): void => {
      if (outcome.kind === 'ok') {
        request.account = outcome.account;
        done();
      } else {
        // Answered here: Fastify skips the route once a hook has sent the reply.
        void answer(gate, reply, outcome);
      }
    };
    const outcome = authenticate(gate, request.headers.authorization, client);
    if (outcome instanceof Promise) outcome.then(settle, (error: unknown) => done(error instanceof Error ? error : new Error(String(error))));
    else settle(outcome);
  });
}
