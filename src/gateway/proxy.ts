import type { TLSSocket } from 'node:tls';
import type { Account } from '../accounts/accounts.js';
import { clientAddress } from '../config/trusted-proxies.js';
import type { UpstreamOutcome } from '../metrics/upstream-metrics.js';
import { errorBody, HSTS } from '../support/http-answers.js';
import { closeAfterAnswer, requestArrived, responseGone, writeHead, type NodeRequest, type NodeResponse } from '../support/node-http.js';
import { admit } from './admission.js';
import { Exchange, expectsContinue, type ExchangeEnd } from './exchange.js';
import { requestHeaders } from './forward-headers.js';
import type { ProxyContext } from './context.js';
import type { LoginGuard, LoginSettle } from './login-guard.js';
import { loginUser, LOGIN_BODY_MAX_BYTES } from './login-requests.js';


interface Who {
  client: string;
  peer: string;
  started: number;
  tls: boolean;
  account?: Account | undefined;
}

function sendJson(res: NodeResponse, statusCode: number, headers: Record<string, string>, body: unknown, close: boolean, tls: boolean): void {
  const json = JSON.stringify(body);
  if (close) closeAfterAnswer(res);
  writeHead(res, statusCode, { ...headers, ...(tls ? { 'strict-transport-security': HSTS } : {}), 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store' });
  res.end(json);
}

/**
 * One request on the data listener in front of the product. In order: a target keepd forwards
 * as it sees it, the body limit on the declared length, who the client is (trustedProxies),
 * authentication ("functional": an account of singleDbModeUsers; "passthrough": the login throttle
 * on login requests), then the exchange with the product (exchange.ts), whose answer counts as a
 * failed or good login.
 */
export function proxy(req: NodeRequest, res: NodeResponse, ctx: ProxyContext): void {
  const who: Who = { client: '', peer: req.socket.remoteAddress ?? '', started: performance.now(), tls: (req.socket as Partial<TLSSocket>).encrypted === true };
  who.client = clientAddress(who.peer, req.headers['x-forwarded-for'], ctx.gate.trust());
  const url = req.url ?? '/';
  const refuse = (statusCode: number, headers: Record<string, string>, body: unknown, outcome: UpstreamOutcome = 'refused'): void => {
    // A body not read to its end: the connection cannot carry another request.
    sendJson(res, statusCode, headers, body, !requestArrived(req), who.tls);
    ctx.metrics.count(outcome);
    ctx.ended({ status: statusCode, answered: 0, reached: false, outcome, seconds: (performance.now() - who.started) / 1000, sent: 0, received: 0, method: req.method ?? '', url, client: who.client });
  };
  const { bodyLimit } = ctx.upstream.settings;
  const declared = req.headers['content-length'];
  if (bodyLimit !== undefined && declared !== undefined && Number(declared) > bodyLimit) {
    refuse(413, {}, errorBody(413, `the request body is over bodyHandler.bodyLimit (${bodyLimit} bytes)`));
    return;
  }
  admit(req, ctx, who.client, () => responseGone(res), (admission) => {
    if (admission.kind === 'refused') {
      refuse(admission.refusal.statusCode, admission.refusal.headers, admission.refusal.body);
      return;
    }
    who.account = admission.account;
    const { login } = admission;
    if (login === undefined) forward(req, res, ctx, who);
    else if (login.request.kind === 'basic') forward(req, res, ctx, who, undefined, login.guard.settleFor(login.request.user));
    else forwardJwtLogin(req, res, ctx, who, login.guard, refuse);
  });
}

/** A JWT login (passthrough): its small JSON body is read first, for the username the throttle counts it for. */
function forwardJwtLogin(req: NodeRequest, res: NodeResponse, ctx: ProxyContext, who: Who, guard: Exclude<LoginGuard, { refused: unknown }>, refuse: (status: number, headers: Record<string, string>, body: unknown, outcome?: UpstreamOutcome) => void): void {
  readLoginBody(req, res, ctx, (body) => {
    if (Buffer.isBuffer(body)) {
      forward(req, res, ctx, who, body, guard.settleFor(loginUser(body)));
      return;
    }
    guard.abandon();
    if (body === 'too large') refuse(413, {}, errorBody(413, `a login body over ${LOGIN_BODY_MAX_BYTES} bytes`));
    else if (body === 'stalled') refuse(408, {}, errorBody(408, `the request body stalled for ${ctx.upstream.settings.idleTimeoutMs} ms (httpIdleTimeout)`), 'aborted');
    else {
      ctx.metrics.count('aborted');
      ctx.ended({ status: 0, answered: 0, reached: false, outcome: 'aborted', seconds: (performance.now() - who.started) / 1000, sent: 0, received: 0, method: req.method ?? '', url: req.url ?? '', client: who.client });
    }
  });
}

/** The whole (small) body of a login, or why not: too large, the client gone, stalled (httpIdleTimeout). */
function readLoginBody(req: NodeRequest, res: NodeResponse, ctx: ProxyContext, done: (body: Buffer | 'too large' | 'gone' | 'stalled') => void): void {
  if (Number(req.headers['content-length'] ?? 0) > LOGIN_BODY_MAX_BYTES) {
    done('too large');
    return;
  }
  if (expectsContinue(req)) res.writeContinue();
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const settle = (result: Buffer | 'too large' | 'gone' | 'stalled'): void => {
    if (settled) return;
    settled = true;
    clearTimeout(stall);
    done(result);
  };
  const stall = setTimeout(() => settle('stalled'), ctx.upstream.settings.idleTimeoutMs);
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    stall.refresh();
    if (size > LOGIN_BODY_MAX_BYTES) {
      req.pause();
      settle('too large');
    } else chunks.push(chunk);
  });
  req.once('end', () => settle(Buffer.concat(chunks)));
  req.once('close', () => settle('gone'));
}

function forward(req: NodeRequest, res: NodeResponse, ctx: ProxyContext, who: Who, body?: Buffer, login?: LoginSettle): void {
  const headers = requestHeaders(req.rawHeaders, {
    client: who.client,
    peer: who.peer,
    peerTrusted: ctx.gate.trust()(who.peer),
    proto: who.tls ? 'https' : 'http',
    port: req.socket.localPort ?? 0,
    upstreamHost: ctx.upstream.host,
    identity: who.account ? { name: who.account.name, cn: who.account.CN } : undefined,
    upgrade: false,
  });
  const exchange = new Exchange(req, res, {
    upstream: ctx.upstream,
    metrics: ctx.metrics,
    hsts: who.tls ? HSTS : undefined,
    started: who.started,
    // The throttle learns at the product's status, not after its body: the attempt stops counting as running.
    client: who.client,
    ...(login
      ? {
          answered: (status: number) => login(status, true),
          ended: (end: ExchangeEnd) => {
            login(end.answered, end.reached);
            ctx.ended(end);
          },
        }
      : { ended: ctx.ended }),
  });
  if (headers === undefined) exchange.refuse(400, 'a request with two Host or Authorization headers (or a Host unlike its :authority) is not forwarded');
  else exchange.start(headers, body);
}
