import fastifyBasicAuth from '@fastify/basic-auth';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account, AuthFailure } from '../accounts/accounts.js';
import { type ListenerName, type Realm } from '../config/listener-table.js';
import type { ListenerContext } from './listener-context.js';
import type { Admission } from './request-pipeline.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The functional account that authenticated this request. */
    account: Account | null;
  }
}

/** Why a request got 401, for `keep_unauthenticated_request_count_total{reason}`. */
export type UnauthenticatedReason = AuthFailure | 'missing_credentials' | 'malformed_credentials';

/** A client refused for too many failed logins; its credentials are not looked at. */
export class Throttled extends Error {
  readonly statusCode = 429;
  constructor(readonly retryAfterSeconds: number) {
    super(`too many failed logins from this address; retry in ${retryAfterSeconds} s`);
  }
}

export class AuthenticationFailed extends Error {
  readonly statusCode = 401;
  constructor(readonly reason: AuthFailure) {
    super('authentication failed');
  }
}

const MALFORMED_HEADER_CODE = 'FST_BASIC_AUTH_MISSING_OR_BAD_AUTHORIZATION_HEADER';

/** The reason behind an error the guard produced, or undefined for any other error. */
export function unauthenticatedReason(error: unknown, request: FastifyRequest): UnauthenticatedReason | undefined {
  if (error instanceof AuthenticationFailed) return error.reason;
  if (typeof error === 'object' && error !== null && 'code' in error && error.code === MALFORMED_HEADER_CODE) {
    return request.headers.authorization === undefined ? 'missing_credentials' : 'malformed_credentials';
  }
  return undefined;
}

/** One body for every 401, so that it never tells unknown users, wrong passwords and inactive accounts apart. */
export function unauthorizedBody(realm: Realm): { statusCode: 401; error: 'Unauthorized'; message: string } {
  return { statusCode: 401, error: 'Unauthorized', message: `send Basic credentials of an active account in identity.${realm}` };
}

/**
 * Every route of the listener requires an account of its realm. `admission` (the request
 * pipeline) sees each credential first: headers, trace log, login throttle. A credential verified
 * before is answered synchronously (no promise, no PBKDF2); a new one is verified off the event loop.
 * @fastify/basic-auth hangs a request whose promise-returning validate resolves with a value, so
 * this validate uses the callback form: `done()` on success, `done(error)` on failure.
 */
export async function guardWithBasicAuth(
  app: FastifyInstance,
  listener: ListenerName,
  realm: Realm,
  ctx: Pick<ListenerContext, 'authenticator' | 'accounts' | 'throttle'>,
  admission?: Admission,
): Promise<void> {
  app.decorateRequest('account', null);
  await app.register(fastifyBasicAuth, {
    authenticate: { realm },
    utf8: true,
    validate(user: string, password: string, request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void {
      const refused = admission?.admit(request, reply);
      if (refused) {
        done(refused);
        return;
      }
      const throttle = ctx.throttle(listener);
      const accounts = ctx.accounts();
      const known = ctx.authenticator.cached(accounts, realm, user, password);
      if (known) {
        throttle.succeeded(request.ip, user);
        request.account = known;
        done();
        return;
      }
      // A password to verify: counted by the throttle while it runs, so parallel guesses wait.
      const wait = throttle.begin(request.ip);
      if (wait > 0) {
        done(new Throttled(wait));
        return;
      }
      ctx.authenticator.authenticate(accounts, realm, user, password).then(
        (outcome) => {
          throttle.finish(request.ip, user, outcome.ok ? 'success' : 'failure');
          if (!outcome.ok) {
            done(new AuthenticationFailed(outcome.reason));
            return;
          }
          request.account = outcome.account;
          done();
        },
        (error: unknown) => {
          throttle.finish(request.ip, user, 'none');
          done(error instanceof Error ? error : new Error(String(error)));
        },
      );
    },
  });
  app.addHook('onRequest', app.basicAuth);
}
