import { request as httpRequest, STATUS_CODES, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { authenticate, refusalResponse, type AuthGate, type AuthOutcome } from '../auth/authenticate.js';
import { clientAddress } from '../config/trusted-proxies.js';
import { statusClass, type UpstreamMetrics } from '../metrics/upstream-metrics.js';
import { errorBody, HSTS } from '../support/http-answers.js';
import { classifyFailure, failureBody, type UpstreamFailure } from './failures.js';
import { requestHeaders, responseHeaders } from './forward-headers.js';
import type { Upstream } from './upstream.js';

export interface TunnelContext {
  readonly upstream: Upstream;
  readonly gate: AuthGate;
  readonly metrics: UpstreamMetrics;
  /** The upstream could not be reached (for the health state and the log). */
  failed(failure: UpstreamFailure): void;
  reached(): void;
}

/** An HTTP answer written on a socket that node's HTTP server has handed over (an upgrade request). */
function writeHead(socket: Duplex, statusCode: number, headers: readonly string[]): void {
  let head = `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i] ?? ''}: ${headers[i + 1] ?? ''}\r\n`;
  socket.write(`${head}\r\n`);
}

/** A 101's headers: Upgrade, Connection and Sec-WebSocket-* are the point of it; framing headers are not. */
function switchingHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    if (!/^(keep-alive|transfer-encoding|content-length)$/i.test(name)) out.push(name, raw[i + 1] ?? '');
  }
  return out;
}

function refuseUpgrade(socket: Duplex, statusCode: number, headers: Record<string, string>, body: string): void {
  const flat = Object.entries(headers).flat();
  writeHead(socket, statusCode, [...flat, 'content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), 'connection', 'close']);
  socket.end(body);
}

/**
 * A WebSocket upgrade (the product's event bus, the Domino console) through the gateway:
 * authenticated as any request in "functional" mode, then a tunnel of its own to the product,
 * whose answer (101, or a refusal such as 401) goes back to the client as the product sent it.
 */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: TunnelContext): void {
  socket.on('error', () => socket.destroy());
  const peer = req.socket.remoteAddress ?? '';
  const client = clientAddress(peer, req.headers['x-forwarded-for'], ctx.gate.trust());
  if (ctx.upstream.settings.auth !== 'functional') {
    tunnel(req, socket, head, ctx, client, peer, undefined);
    return;
  }
  const settle = (outcome: AuthOutcome): void => {
    if (outcome.kind === 'ok') {
      tunnel(req, socket, head, ctx, client, peer, { name: outcome.account.name, cn: outcome.account.CN });
      return;
    }
    const refusal = refusalResponse(ctx.gate, outcome);
    ctx.metrics.count('refused');
    refuseUpgrade(socket, refusal.statusCode, refusal.headers, JSON.stringify(refusal.body));
  };
  const outcome = authenticate(ctx.gate, req.headers.authorization, client);
  if (outcome instanceof Promise) outcome.then(settle, () => refuseUpgrade(socket, 500, {}, JSON.stringify(errorBody(500, 'internal error; see the keepd log'))));
  else settle(outcome);
}

function tunnel(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: TunnelContext, client: string, peer: string, identity: { name: string; cn: string | undefined } | undefined): void {
  const { upstream } = ctx;
  const tls = (req.socket as Partial<TLSSocket>).encrypted === true;
  const headers = requestHeaders(req.rawHeaders, {
    client,
    peer,
    peerTrusted: ctx.gate.trust()(peer),
    proto: tls ? 'https' : 'http',
    port: req.socket.localPort ?? 0,
    upstreamHost: upstream.host,
    upgrade: true,
    ...(identity ? { identity } : {}),
  });
  const secure = upstream.url.protocol === 'https:';
  const options = { host: upstream.url.hostname.replace(/^\[|\]$/g, ''), port: upstream.url.port || (secure ? 443 : 80), path: req.url, method: req.method, headers, agent: false as const, timeout: upstream.settings.connectTimeoutMs };
  const outgoing = secure ? httpsRequest({ ...options, ...(upstream.ca === undefined ? {} : { ca: upstream.ca }) }) : httpRequest(options);
  const fail = (error: unknown): void => {
    const { settings } = upstream;
    const failure = classifyFailure(error, settings.origin, { connectMs: settings.connectTimeoutMs, responseMs: settings.responseTimeoutMs, idleMs: settings.idleTimeoutMs });
    ctx.metrics.count(failure.outcome);
    if (failure.statusCode === 502 || failure.statusCode === 504) ctx.failed(failure);
    if (socket.writable) refuseUpgrade(socket, failure.statusCode, {}, failureBody(failure));
    else socket.destroy();
  };
  outgoing.once('timeout', () => outgoing.destroy(Object.assign(new Error('no answer'), { code: 'UND_ERR_CONNECT_TIMEOUT' })));
  outgoing.once('error', fail);
  socket.once('close', () => outgoing.destroy());
  outgoing.once('upgrade', (answer: IncomingMessage, upstreamSocket: Duplex, upstreamHead: Buffer) => {
    ctx.reached();
    ctx.metrics.count('1xx');
    outgoing.setTimeout(0);
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('error', () => upstreamSocket.destroy());
    upstreamSocket.once('close', () => socket.destroy());
    socket.once('close', () => upstreamSocket.destroy());
    // The 101 keeps its Upgrade and Connection headers: they are the point of it.
    writeHead(socket, 101, switchingHeaders(answer.rawHeaders));
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
  outgoing.once('response', (answer: IncomingMessage) => {
    // The product said no (401, 404...): its answer as it is, then the connection closes.
    ctx.reached();
    ctx.metrics.count(statusClass(answer.statusCode ?? 502));
    writeHead(socket, answer.statusCode ?? 502, [...responseHeaders(answer.rawHeaders, tls ? HSTS : undefined), 'connection', 'close']);
    answer.pipe(socket);
  });
  outgoing.end();
}
