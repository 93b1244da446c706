import fastifyBasicAuth from '@fastify/basic-auth';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Account, AuthFailure } from '../accounts/accounts.js';
import type { ListenerName } from '../config/listener-names.js';
import type { Realm } from '../config/schema.js';
import type { ListenerContext } from './listener-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The functional account that authenticated this request. */
    account: Account | null;
  }
}

/** Why a request got 401, for `keep_unauthenticated_request_count_total{reason}`. */
export type UnauthenticatedReason = AuthFailure | 'missing_credentials' | 'malformed_credentials';

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
 * Every route of the listener requires an account of its realm. `validate` resolves with nothing
 * or throws: @fastify/basic-auth hangs a request whose validate returns a value.
 */
export async function guardWithBasicAuth(app: FastifyInstance, listener: ListenerName, realm: Realm, ctx: ListenerContext): Promise<void> {
  app.decorateRequest('account', null);
  await app.register(fastifyBasicAuth, {
    authenticate: { realm },
    utf8: true,
    async validate(user: string, password: string, request: FastifyRequest): Promise<void> {
      const outcome = await ctx.authenticator.authenticate(ctx.accounts(), realm, user, password);
      if (!outcome.ok) throw new AuthenticationFailed(outcome.reason);
      ctx.throttle(listener).recordSuccess(request.ip);
      request.account = outcome.account;
    },
  });
  app.addHook('onRequest', app.basicAuth);
}
