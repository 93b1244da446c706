import { request as httpRequest, STATUS_CODES, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { RefusalResponse } from '../auth/authenticate.js';
import { clientAddress } from '../config/trusted-proxies.js';
import { statusClass, type UpstreamOutcome } from '../metrics/upstream-metrics.js';
import { errorBody, HSTS } from '../support/http-answers.js';
import { classifyFailure, codedError, failureBody, type UpstreamFailure } from './failures.js';
import { requestHeaders, responseHeaders } from './forward-headers.js';
import { admit } from './admission.js';
import type { LoginSettle } from './login-guard.js';
import type { ProxyContext } from './context.js';

interface Upgrade {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  client: string;
  peer: string;
  tls: boolean;
  started: number;
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

function answer(up: Upgrade, statusCode: number, headers: Record<string, string>, body: string): void {
  const flat = [...Object.entries(headers).flat(), ...(up.tls ? ['strict-transport-security', HSTS] : [])];
  writeHead(up.socket, statusCode, [...flat, 'content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), 'connection', 'close']);
  up.socket.end(body);
}

/**
 * A WebSocket upgrade (the product's event bus, the Domino console) through the gateway: the same
 * checks as a request (target, functional account, or the login throttle for Basic credentials in
 * passthrough), then a connection of its own to the product, whose answer (101, or a refusal such
 * as 401) goes back to the client as the product sent it.
 */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: ProxyContext): void {
  socket.on('error', () => socket.destroy());
  const peer = req.socket.remoteAddress ?? '';
  const up: Upgrade = { req, socket, head, peer, client: clientAddress(peer, req.headers['x-forwarded-for'], ctx.gate.trust()), tls: (req.socket as Partial<TLSSocket>).encrypted === true, started: performance.now() };
  const end = (status: number, answered: number, reached: boolean, outcome: UpstreamOutcome, failure?: UpstreamFailure): void => {
    ctx.metrics.count(outcome);
    ctx.ended({ status, answered, reached, outcome, seconds: (performance.now() - up.started) / 1000, sent: 0, received: 0, method: req.method ?? 'GET', url: req.url ?? '/', client: up.client, ...(failure ? { failure } : {}) });
  };
  const refuse = (refusal: RefusalResponse): void => {
    answer(up, refusal.statusCode, refusal.headers, JSON.stringify(refusal.body));
    end(refusal.statusCode, 0, false, 'refused');
  };
  if (!/^websocket$/i.test(req.headers.upgrade ?? '')) {
    // h2c and the like would hand the client a connection keepd no longer reads.
    refuse({ statusCode: 400, headers: {}, body: errorBody(400, 'the data port upgrades to WebSocket only') });
    return;
  }
  admit(req, ctx, up.client, () => socket.destroyed, (admission) => {
    if (admission.kind === 'refused') {
      refuse(admission.refusal);
      return;
    }
    const { account, login } = admission;
    const identity = account ? { name: account.name, cn: account.CN } : undefined;
    tunnel(up, ctx, end, identity, login?.guard.settleFor(login.request.kind === 'basic' ? login.request.user : ''));
  });
}

type End = (status: number, answered: number, reached: boolean, outcome: UpstreamOutcome, failure?: UpstreamFailure) => void;

function tunnel(up: Upgrade, ctx: ProxyContext, end: End, identity: { name: string; cn: string | undefined } | undefined, login?: LoginSettle): void {
  const { upstream } = ctx;
  const { req, socket } = up;
  const { settings } = upstream;
  const headers = requestHeaders(req.rawHeaders, { client: up.client, peer: up.peer, peerTrusted: ctx.gate.trust()(up.peer), proto: up.tls ? 'https' : 'http', port: req.socket.localPort ?? 0, upstreamHost: upstream.host, upgrade: true, identity });
  if (headers === undefined) {
    answer(up, 400, {}, JSON.stringify(errorBody(400, 'a request with two Host or Authorization headers is not forwarded')));
    end(400, 0, false, 'refused');
    login?.(0, false);
    return;
  }
  const secure = upstream.url.protocol === 'https:';
  // `timeout` here (unlike setTimeout()) runs from before the connection: the connect limit.
  const options = { host: upstream.url.hostname.replace(/^\[|\]$/g, ''), port: upstream.url.port || (secure ? 443 : 80), path: req.url, method: req.method, headers, agent: false as const, timeout: settings.connectTimeoutMs };
  const outgoing = secure ? httpsRequest({ ...options, ...(upstream.ca === undefined ? {} : { ca: upstream.ca }) }) : httpRequest(options);
  let answered = 0;
  let connected = false;
  // Connecting, then waiting for the answer, each with its own limit; after the answer, failures only cut.
  outgoing.on('timeout', () => outgoing.destroy(codedError(connected ? 'KEEPD_RESPONSE_TIMEOUT' : 'UND_ERR_CONNECT_TIMEOUT', 'no answer')));
  outgoing.once('socket', (upstreamSocket) => {
    upstreamSocket.once(secure ? 'secureConnect' : 'connect', () => {
      connected = true;
      outgoing.setTimeout(settings.responseTimeoutMs);
    });
  });
  let failed = false;
  outgoing.on('error', (error) => {
    if (answered > 0 || failed) {
      socket.destroy();
      return;
    }
    failed = true;
    const failure = classifyFailure(error, settings, { connectMs: settings.connectTimeoutMs, responseMs: settings.responseTimeoutMs, idleMs: settings.idleTimeoutMs });
    login?.(0, connected);
    if (socket.writable) answer(up, failure.statusCode, {}, failureBody(failure));
    else socket.destroy();
    end(socket.writable ? failure.statusCode : 0, 0, connected, socket.writable ? failure.outcome : 'aborted', failure);
  });
  socket.once('close', () => outgoing.destroy());
  outgoing.once('upgrade', (response: IncomingMessage, upstreamSocket: Duplex, upstreamHead: Buffer) => {
    if (!/^websocket$/i.test(response.headers.upgrade ?? '')) {
      // A switch to anything but what was asked for: not joined.
      upstreamSocket.destroy();
      outgoing.emit('error', codedError('KEEPD_BAD_RESPONSE_HEADER', 'a 101 to another protocol'));
      return;
    }
    answered = 101;
    outgoing.setTimeout(0);
    login?.(101, true);
    end(101, 101, true, '1xx');
    upstreamSocket.on('error', () => socket.destroy());
    upstreamSocket.once('close', () => socket.destroy());
    socket.once('close', () => upstreamSocket.destroy());
    writeHead(socket, 101, switchingHeaders(response.rawHeaders));
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (up.head.length > 0) upstreamSocket.write(up.head);
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
  outgoing.once('response', (response: IncomingMessage) => {
    // The product said no (401, 404...): its answer as it is, then the connection closes.
    answered = response.statusCode ?? 502;
    outgoing.setTimeout(settings.idleTimeoutMs, () => socket.destroy());
    login?.(answered, true);
    end(answered, answered, true, statusClass(answered));
    writeHead(socket, answered, [...responseHeaders(response.rawHeaders, up.tls ? HSTS : undefined), 'connection', 'close']);
    response.pipe(socket);
  });
  outgoing.end();
}
