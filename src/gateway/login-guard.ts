import { refusalResponse, type AuthGate, type RefusalResponse } from '../auth/authenticate.js';
import type { KnownCredentials } from './known-credentials.js';
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

const nothing: LoginSettle = () => undefined;

/**
 * The passthrough login throttle for one login request (a request or a WebSocket upgrade):
 * refused while its client is throttled; otherwise counted as running until the product's answer,
 * which loginResult() turns into a failure, a success or nothing. Basic credentials the product
 * accepted lately skip it (an OData client's parallel requests are not parallel guesses).
 */
export function guardLogin(gate: AuthGate, known: KnownCredentials, client: string, login: NonNullable<Login>, authorization: string): LoginGuard {
  if (login.kind === 'basic' && known.has(authorization)) {
    // Not counted as running, but refused while blocked, and a 401 is a failure like any other:
    // credentials "known" from a public route cannot launder guesses.
    const blocked = gate.throttle.retryAfterSeconds(client);
    if (blocked > 0) return { refused: refusalResponse(gate, { kind: 'throttled', retryAfterSeconds: blocked }) };
    let counted = false;
    return {
      settleFor: (user) => (answered) => {
        if (answered !== 401 || counted) return;
        counted = true;
        known.forget(authorization);
        gate.throttle.finish(client, user, 'failure', { wait: 0, counted: false });
      },
      abandon: () => undefined,
    };
  }
  const attempt = gate.throttle.begin(client);
  if (attempt.wait > 0) return { refused: refusalResponse(gate, { kind: 'throttled', retryAfterSeconds: attempt.wait }) };
  let done = false;
  const finish = (user: string, result: 'success' | 'failure' | 'none'): void => {
    if (done) return;
    done = true;
    gate.throttle.finish(client, user, result, attempt);
  };
  return {
    settleFor: (user) => {
      if (done) return nothing;
      return (answered, reached) => {
        finish(user, loginResult(login.kind, user, answered, reached));
        if (login.kind === 'basic' && answered !== 401 && answered !== 0) known.add(authorization);
      };
    },
    abandon: () => finish('', 'none'),
  };
}
