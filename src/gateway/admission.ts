import type { Account } from '../accounts/accounts.js';
import { authenticate, refusalResponse, type AuthOutcome, type RefusalResponse } from '../auth/authenticate.js';
import { errorBody } from '../support/http-answers.js';
import type { NodeRequest } from '../support/node-http.js';
import { guardLogin, type LoginGuard } from './login-guard.js';
import { ambiguousTarget, effectiveMethod, loginOf, type Login } from './login-requests.js';
import type { ProxyContext } from './context.js';

/** May a request (or WebSocket upgrade) go to the product, and as whom. */
export type Admission =
  | { kind: 'refused'; refusal: RefusalResponse }
  /** `account`: functional mode; `login` and its `guard`: a login in passthrough mode. */
  | { kind: 'forward'; account: Account | undefined; login: { request: NonNullable<Login>; guard: Exclude<LoginGuard, { refused: RefusalResponse }> } | undefined };

const TARGET = errorBody(400, 'only plain origin-form targets ("/api/...") are forwarded: no proxy-style URL, dot segments or backslashes');

/**
 * The checks a request and an upgrade share, in order: a target keepd forwards as it sees it, then
 * authentication ("functional": an account of singleDbModeUsers, verified here; "passthrough": the
 * login throttle on login requests). `done` is called once, synchronously unless a password must
 * be verified or a shared throttle store (Redis) asked; `gone()` says the client left meanwhile (then `done` is not called).
 */
export function admit(req: NodeRequest, ctx: ProxyContext, client: string, gone: () => boolean, done: (admission: Admission) => void): void {
  const url = req.url ?? '/';
  if (!url.startsWith('/') || ambiguousTarget(url)) {
    done({ kind: 'refused', refusal: { statusCode: 400, headers: {}, body: TARGET } });
    return;
  }
  if (ctx.upstream.settings.auth === 'functional') {
    const settle = (outcome: AuthOutcome): void => {
      if (gone()) return;
      done(outcome.kind === 'ok' ? { kind: 'forward', account: outcome.account, login: undefined } : { kind: 'refused', refusal: refusalResponse(ctx.gate, outcome) });
    };
    const outcome = authenticate(ctx.gate, req.headers.authorization, client);
    if (outcome instanceof Promise) outcome.then(settle, () => done({ kind: 'refused', refusal: { statusCode: 500, headers: {}, body: errorBody(500, 'internal error; see the keepd log') } }));
    else settle(outcome);
    return;
  }
  const login = ctx.throttleLogins ? loginOf(effectiveMethod(req.method, req.headers), url, req.headers.authorization) : undefined;
  if (login === undefined) {
    done({ kind: 'forward', account: undefined, login: undefined });
    return;
  }
  const admitted = (guard: LoginGuard): Admission => ('refused' in guard ? { kind: 'refused', refusal: guard.refused } : { kind: 'forward', account: undefined, login: { request: login, guard } });
  const guarded = guardLogin(ctx.gate, client, login);
  if (!(guarded instanceof Promise)) {
    done(admitted(guarded));
    return;
  }
  // A shared throttle store answered later: a client gone meanwhile takes its count off again.
  guarded.then(
    (guard) => {
      if (!gone()) done(admitted(guard));
      else if (!('refused' in guard)) guard.abandon();
    },
    () => done({ kind: 'refused', refusal: { statusCode: 500, headers: {}, body: errorBody(500, 'internal error; see the keepd log') } }),
  );
}
