import type { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createSecureServer, Http2ServerRequest, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { ListenerLimits } from '../config/listener-settings.js';
import { errorBody, HSTS } from '../support/http-answers.js';
import { closeAfterAnswer, cutRequest, requestArrived, writeHead, type NodeRequest, type NodeResponse, type RequestHandler } from '../support/node-http.js';
import { acmeAlpnCallbacks } from './acme-alpn.js';
import { ClientConnections } from './client-connections.js';
import { openFrontDoor, type ListenerEntry } from './front-door.js';
import { serverTimeouts } from './server-options.js';

/*
 * A listener's node server: plain http, https (HTTP/1.1), or with `http2` an HTTP/2 server that
 * also takes HTTP/1.1 (ALPN: h2, http/1.1). Its connections and HTTP/2 sessions, and the limits
 * node applies to HTTP/1.1 only, applied to HTTP/2 streams and sessions here.
 */

export interface NodeServerOptions {
  /**
   * undefined: plain http (HTTP/1.1 only; no h2c). `acme`: the tls-alpn-01 challenge certificate
   * for a name, while an order is under way (an ACME listener; acme-alpn.ts).
   */
  tls: { options: HttpsOptions; sni: (servername: string) => SecureContext | undefined; acme: ((servername: string) => SecureContext | undefined) | undefined } | undefined;
  /** TLS only: offer h2 next to http/1.1. */
  http2: boolean;
  /** The limits in use (a reload tunes them). */
  limits: () => ListenerLimits;
  entry: ListenerEntry;
  /** The entry also takes `Expect: 100-continue` and upgrades (a listener with a front door). */
  frontDoor: boolean;
  /** Clients with no limit on their connections (limits.maxConnectionsPerClient): trusted proxies. */
  exempt: (address: string) => boolean;
  /** A connection was closed on accept: its client had its share open. */
  refused: () => void;
}

/** HTTP/2 settings from the limits: streams at once, and the header list size as HTTP/1.1's header limit. */
function http2Settings(limits: ListenerLimits) {
  return { maxConcurrentStreams: limits.maxStreamsPerConnection, maxHeaderListSize: limits.maxHeaderBytes };
}

/**
 * An HTTP/2 session with no stream open is closed (GOAWAY) as an idle HTTP/1.1 connection is:
 * before its first request after the headers timeout (as node times a first request's head), and
 * between requests after keepAliveTimeoutMs. A header block that never ends holds no stream, so
 * these bound it too. 0: no limit.
 */
function closeWhenIdle(session: ServerHttp2Session, limits: () => ListenerLimits): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const idle = (ms: number): void => {
    clearTimeout(timer);
    if (ms <= 0) return;
    timer = setTimeout(() => session.close(), ms);
    timer.unref();
  };
  idle(serverTimeouts(limits()).headersTimeout);
  session.on('stream', (stream: EventEmitter) => {
    open += 1;
    clearTimeout(timer);
    stream.once('close', () => {
      open -= 1;
      if (open === 0 && !session.closed) idle(limits().keepAliveTimeoutMs);
    });
  });
  session.once('close', () => clearTimeout(timer));
}

/**
 * requestTimeoutMs for an HTTP/2 stream (node applies it to HTTP/1.1 only): a request whose body
 * has not all arrived by then gets 408 and its stream reset, or, when its answer has begun, is cut.
 */
function streamDeadline(req: NodeRequest, res: NodeResponse, ms: number): void {
  if (!(req instanceof Http2ServerRequest) || ms <= 0 || requestArrived(req)) return;
  const { stream } = req;
  const timer = setTimeout(() => {
    if (stream.destroyed || requestArrived(req)) return;
    if (res.headersSent) {
      cutRequest(req, res);
      return;
    }
    const json = JSON.stringify(errorBody(408, `the request did not arrive within ${ms} ms (limits.requestTimeoutMs)`));
    closeAfterAnswer(res);
    writeHead(res, 408, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store', 'strict-transport-security': HSTS });
    res.end(json);
  }, ms);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
}

/** HTTP/1.1 limits as properties: an HTTP/2 server takes them so (for its HTTP/1.1 clients), and a tune sets them live. */
function applyHttp1Limits(server: HttpServer | HttpsServer | Http2SecureServer, limits: ListenerLimits): void {
  const { headersTimeout, requestTimeout, keepAliveTimeout, maxHeaderSize } = serverTimeouts(limits);
  Object.assign(server, { headersTimeout, requestTimeout, keepAliveTimeout, maxHeaderSize, maxConnections: limits.maxConnections });
}

/** One listener's node server, every socket it accepted and, with HTTP/2, every session. */
export class NodeServer {
  readonly server: HttpServer | HttpsServer | Http2SecureServer;
  readonly http2: boolean;
  /** Every open TCP connection, upgraded ones included: a drain that runs out of time cuts them all. */
  readonly #sockets = new Set<Socket>();
  readonly #sessions = new Set<ServerHttp2Session>();

  constructor(options: NodeServerOptions) {
    const { tls, entry, limits } = options;
    const now = limits();
    const timeouts = serverTimeouts(now);
    this.http2 = tls !== undefined && options.http2;
    if (tls === undefined) {
      this.server = createHttpServer(timeouts, entry.request);
    } else {
      const sni = (name: string, done: (error: Error | null, context?: SecureContext) => void): void => done(null, tls.sni(name));
      const callbacks = tls.acme ? acmeAlpnCallbacks(this.http2 ? ['h2', 'http/1.1'] : ['http/1.1'], tls.acme, tls.sni) : { SNICallback: sni };
      const secure = { ...tls.options, handshakeTimeout: now.handshakeTimeoutMs, ...callbacks };
      this.server = this.http2 ? this.#http2Server(secure, options) : createHttpsServer({ ...secure, ...timeouts }, entry.request);
    }
    // Node reads connectionsCheckingInterval when it starts listening; the rest is set (and tuned) as properties.
    Object.assign(this.server, { connectionsCheckingInterval: timeouts.connectionsCheckingInterval });
    applyHttp1Limits(this.server, now);
    if (options.frontDoor && !this.http2) openFrontDoor(this.server, entry);
    // Before TLS and HTTP: a client over its share is closed on accept.
    const perClient = new ClientConnections(() => limits().maxConnectionsPerClient, options.exempt);
    this.server.on('connection', (socket: Socket) => {
      if (!perClient.admit(socket)) {
        options.refused();
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  #http2Server(secure: HttpsOptions, options: NodeServerOptions): Http2SecureServer {
    const { entry, limits } = options;
    const deadline =
      (handle: RequestHandler): RequestHandler =>
      (req, res) => {
        streamDeadline(req, res, limits().requestTimeoutMs);
        handle(req, res);
      };
    const server = createSecureServer({ ...secure, allowHTTP1: true, settings: http2Settings(limits()) }, deadline(entry.request));
    if (options.frontDoor) openFrontDoor(server, { ...entry, checkContinue: deadline(entry.checkContinue) });
    server.on('session', (session: ServerHttp2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
      closeWhenIdle(session, limits);
    });
    return server;
  }

  /** The limits a running server takes: HTTP/1.1 timeouts, connections, and HTTP/2 streams for new and open sessions. */
  tune(limits: ListenerLimits): void {
    applyHttp1Limits(this.server, limits);
    if (!('updateSettings' in this.server)) return;
    const settings = http2Settings(limits);
    this.server.updateSettings(settings);
    for (const session of this.#sessions) {
      if (session.closed || session.destroyed) continue;
      try {
        session.settings(settings);
      } catch {
        // A client that leaves earlier SETTINGS unacknowledged keeps those; its next connection gets these.
      }
    }
  }

  /**
   * While draining: idle HTTP/1.1 connections are closed, and every HTTP/2 session gets GOAWAY
   * (its open streams finish; the client opens a new connection for its next request).
   */
  closeIdle(): void {
    // An HTTP/2 server closes its idle HTTP/1.1 connections so too, though its types omit the method.
    const closeIdleHttp1: unknown = Reflect.get(this.server, 'closeIdleConnections');
    if (typeof closeIdleHttp1 === 'function') Reflect.apply(closeIdleHttp1, this.server, []);
    for (const session of this.#sessions) if (!session.closed) session.close();
  }

  /** Cuts every connection (a drain ran out of time). */
  cut(): void {
    if ('closeAllConnections' in this.server) this.server.closeAllConnections();
    for (const session of this.#sessions) session.destroy();
    for (const socket of this.#sockets) socket.destroy();
  }
}
