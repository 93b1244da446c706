import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Account } from '../accounts/accounts.js';
import type { Attempt } from '../accounts/login-throttle.js';
import { authenticate, refusalResponse, type AuthGate, type AuthOutcome } from '../auth/authenticate.js';
import { clientAddress } from '../config/trusted-proxies.js';
import type { UpstreamMetrics, UpstreamOutcome } from '../metrics/upstream-metrics.js';
import { errorBody, HSTS } from '../support/http-answers.js';
import { Exchange, expectsContinue, type ExchangeEnd } from './exchange.js';
import { requestHeaders } from './forward-headers.js';
import { loginOf, loginUser, LOGIN_BODY_PEEK_BYTES, type Login } from './login-requests.js';
import type { Upstream } from './upstream.js';

/** Everything one proxied request works with, read live from the running daemon. */
export interface ProxyContext {
  readonly upstream: Upstream;
  /** The data listener's realm, login throttle and metrics. */
  readonly gate: AuthGate;
  readonly metrics: UpstreamMetrics;
  /** After every request: for the listener's request metrics, the health state and the log. */
  ended(end: ExchangeEnd & { method: string; url: string; client: string }): void;
}

/** A throttled login's bookkeeping: who, and the attempt begin() counted. */
interface LoginAttempt {
  client: string;
  user: string;
  attempt: Attempt;
}

function sendJson(res: ServerResponse, statusCode: number, headers: Record<string, string>, body: unknown, close: boolean): void {
  const json = JSON.stringify(body);
  if (close) res.shouldKeepAlive = false;
  res.writeHead(statusCode, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

/**
 * One request on the data listener in front of the product. In order: the body limit on the
 * declared length, who the client is (trustedProxies), authentication ("functional": an account
 * of singleDbModeUsers; "passthrough": the login throttle on login requests), then the exchange
 * with the product (exchange.ts), whose answer counts as a failed or good login.
 */
export function proxy(req: IncomingMessage, res: ServerResponse, ctx: ProxyContext): void {
  const started = performance.now();
  const peer = req.socket.remoteAddress ?? '';
  const client = clientAddress(peer, req.headers['x-forwarded-for'], ctx.gate.trust());
  const refuse = (statusCode: number, headers: Record<string, string>, body: unknown, outcome: UpstreamOutcome): void => {
    // The body was not read: the connection cannot carry another request.
    sendJson(res, statusCode, headers, body, !req.complete);
    ctx.metrics.count(outcome);
    ctx.ended({ status: statusCode, outcome, seconds: (performance.now() - started) / 1000, sent: 0, received: 0, method: req.method ?? '', url: req.url ?? '', client });
  };
  const url = req.url ?? '/';
  if (!url.startsWith('/')) {
    refuse(400, {}, errorBody(400, 'the data port takes origin-form request targets ("/api/..."), not a proxy request'), 'refused');
    return;
  }
  const { bodyLimit } = ctx.upstream.settings;
  const declared = req.headers['content-length'];
  if (bodyLimit !== undefined && declared !== undefined && Number(declared) > bodyLimit) {
    refuse(413, {}, errorBody(413, `the request body is over bodyHandler.bodyLimit (${bodyLimit} bytes)`), 'refused');
    return;
  }
  if (ctx.upstream.settings.auth === 'functional') {
    const outcome = authenticate(ctx.gate, req.headers.authorization, client);
    const settle = (result: AuthOutcome): void => {
      if (result.kind === 'ok') {
        forward(req, res, ctx, { client, peer, started, account: result.account });
        return;
      }
      const refusal = refusalResponse(ctx.gate, result);
      refuse(refusal.statusCode, refusal.headers, refusal.body, 'refused');
    };
    if (outcome instanceof Promise) outcome.then(settle, () => refuse(500, {}, errorBody(500, 'internal error; see the keepd log'), 'refused'));
    else settle(outcome);
    return;
  }
  const login = loginOf(req.method ?? '', url, req.headers.authorization);
  if (login === undefined) {
    forward(req, res, ctx, { client, peer, started });
    return;
  }
  const attempt = ctx.gate.throttle.begin(client);
  if (attempt.wait > 0) {
    const refusal = refusalResponse(ctx.gate, { kind: 'throttled', retryAfterSeconds: attempt.wait });
    refuse(refusal.statusCode, refusal.headers, refusal.body, 'refused');
    return;
  }
  forwardLogin(req, res, ctx, { client, peer, started }, login, attempt);
}

interface Who {
  client: string;
  peer: string;
  started: number;
  account?: Account;
}

/** A login: its user is read from the Basic header or the (small) JSON body, which is then forwarded as read. */
function forwardLogin(req: IncomingMessage, res: ServerResponse, ctx: ProxyContext, who: Who, login: NonNullable<Login>, attempt: Attempt): void {
  if (login.kind === 'basic') {
    forward(req, res, ctx, who, undefined, { client: who.client, user: login.user, attempt });
    return;
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (!(declared <= LOGIN_BODY_PEEK_BYTES)) {
    forward(req, res, ctx, who, undefined, { client: who.client, user: '', attempt });
    return;
  }
  if (expectsContinue(req)) res.writeContinue();
  const chunks: Buffer[] = [];
  let settled = false;
  // A login body that stalls is cut like any upload (httpIdleTimeout).
  const stall = setTimeout(() => {
    req.destroy();
    res.destroy();
  }, ctx.upstream.settings.idleTimeoutMs);
  req.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    stall.refresh();
  });
  req.once('end', () => {
    settled = true;
    clearTimeout(stall);
    const body = Buffer.concat(chunks);
    forward(req, res, ctx, who, body, { client: who.client, user: loginUser(body), attempt });
  });
  // The client went away before its body was in: the attempt never ran.
  req.once('close', () => {
    clearTimeout(stall);
    if (settled) return;
    settled = true;
    ctx.gate.throttle.finish(who.client, '', 'none', attempt);
    ctx.metrics.count('aborted');
  });
}

function forward(req: IncomingMessage, res: ServerResponse, ctx: ProxyContext, who: Who, body?: Buffer, login?: LoginAttempt): void {
  const socket = req.socket as Partial<TLSSocket>;
  const tls = socket.encrypted === true;
  const headers = requestHeaders(req.rawHeaders, {
    client: who.client,
    peer: who.peer,
    peerTrusted: ctx.gate.trust()(who.peer),
    proto: tls ? 'https' : 'http',
    port: req.socket.localPort ?? 0,
    upstreamHost: ctx.upstream.host,
    ...(who.account ? { identity: { name: who.account.name, cn: who.account.CN } } : {}),
  });
  const exchange = new Exchange(req, res, {
    upstream: ctx.upstream,
    metrics: ctx.metrics,
    hsts: tls ? HSTS : undefined,
    started: who.started,
    ended: (end) => {
      if (login) ctx.gate.throttle.finish(login.client, login.user, end.status === 401 ? 'failure' : end.status >= 200 && end.status < 300 ? 'success' : 'none', login.attempt);
      ctx.ended({ ...end, method: req.method ?? '', url: req.url ?? '', client: who.client });
    },
  });
  exchange.start(headers, body);
}
