import type { Attempt } from '../accounts/login-throttle.js';
import { refusalResponse, type AuthGate, type RefusalResponse } from '../auth/authenticate.js';
import { loginResult, type Login } from './login-requests.js';

/** How the throttle hears about a login: once, when the product's status is known (or never comes). */
export type LoginSettle = (answered: number, reached: boolean) => void;

export type LoginGuard =
  | { refused: RefusalResponse }
  | {
      /** The settle function, once the login's user is known (a JWT login's is in its body). */
      settleFor(user: string): LoginSettle;
      /** The login never went out (its body never came): nothing to count. */
      abandon(): void;
    };

/**
 * The passthrough login throttle for one login request (a request or a WebSocket upgrade):
 * refused while its client is throttled, or while as many of its logins are under way as it may
 * still fail; otherwise counted as running until the product's status, which loginResult() turns
 * into a failure, a success or nothing.
 *
 * Every request with Basic credentials is a login, even with credentials the product accepted
 * before: keepd cannot tell a route that checked them from a public one that ignored them, and
 * the product counts every wrong password, so parallel requests with one wrong password would lock
 * its user out as surely as parallel guesses. An OData client with Basic credentials therefore
 * runs at most `maxFailures` requests at once per address (more get 429, Retry-After: 1): its
 * requests stop counting as running when the product's status arrives, not at the end of the body.
 */
export function guardLogin(gate: AuthGate, client: string, login: NonNullable<Login>): LoginGuard | Promise<LoginGuard> {
  const begun = gate.throttle.begin(client);
  // A shared store (Redis) answers later; the in-memory throttle at once.
  return begun instanceof Promise ? begun.then((attempt) => guardFor(gate, client, login, attempt)) : guardFor(gate, client, login, begun);
}

function guardFor(gate: AuthGate, client: string, login: NonNullable<Login>, attempt: Attempt): LoginGuard {
  if (attempt.wait > 0) return { refused: refusalResponse(gate, { kind: 'throttled', retryAfterSeconds: attempt.wait }) };
  let done = false;
  const finish = (user: string, result: 'success' | 'failure' | 'none'): void => {
    if (done) return;
    done = true;
    gate.throttle.finish(client, user, result, attempt);
  };
  return {
    settleFor: (user) => (answered, reached) => finish(user, loginResult(login.kind, user, answered, reached)),
    abandon: () => finish('', 'none'),
  };
}
