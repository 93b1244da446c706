import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { matchRoute, requestHost, type FrontRoute } from '../config/front-routes.js';
import type { RealmListener } from '../config/listener-table.js';
import { errorBody, HSTS } from '../support/http-answers.js';
import { closeAfterAnswer, cutRequest, hasBody, requestArrived, type NodeRequest, type NodeResponse } from '../support/node-http.js';
import type { ListenerEntry } from './front-door.js';
import type { ListenerParts } from './listener-server.js';

/** All the front listener may use: its routes, the listeners it routes to, and the upstreams of its URL routes. */
export interface FrontContext {
  routes(): readonly FrontRoute[];
  /** A running listener's entry; undefined while it is not running. */
  listener(name: RealmListener): ListenerEntry | undefined;
  upstream(origin: string): { request(req: NodeRequest, res: NodeResponse): void; upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void } | undefined;
  /** Requests the front answers itself (404, 503), for the request metrics. */
  record(method: string, status: number, seconds: number): void;
}

/** HTTP/1.1 `Host`, or HTTP/2 `:authority`. */
function authority(req: NodeRequest): string | undefined {
  const value = req.headers[':authority'] ?? req.headers.host;
  return typeof value === 'string' ? value : undefined;
}

function answer(req: NodeRequest, res: NodeResponse, statusCode: number, message: string): void {
  const json = JSON.stringify(errorBody(statusCode, message));
  const tls = (req.socket as Partial<TLSSocket>).encrypted === true;
  // The body was not read: the connection (HTTP/2: the stream) cannot carry another request.
  if (!requestArrived(req)) closeAfterAnswer(res);
  res.writeHead(statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...(tls ? { 'strict-transport-security': HSTS } : {}) });
  res.end(json);
}

function refuseUpgrade(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

/**
 * The target listener's whole-request deadline: the front's own server has none (it carries the
 * gateway's uploads, which httpIdleTimeout guards instead), so a routed request keeps the one it
 * has on its own port. Past it: 408, or the stream cut once an answer has begun.
 */
function keepDeadline(req: NodeRequest, res: NodeResponse, ms: number): void {
  // Without a body, the request is all here (its headers are): nothing to time, no timer per GET.
  if (ms <= 0 || !hasBody(req) || requestArrived(req)) return;
  const timer = setTimeout(() => {
    if (requestArrived(req)) return;
    if (res.headersSent) cutRequest(req, res);
    else answer(req, res, 408, 'the request did not arrive in time');
  }, ms);
  timer.unref();
  const stop = (): void => clearTimeout(timer);
  req.once('end', stop);
  res.once('close', stop);
}

/**
 * The front listener (`listeners.front`, docs/front.md): one port for everything. Each request
 * goes to the first route whose host and path match: a listener's entry (the very path a request
 * on that listener's own port takes: its front door, realm, throttle, body limit and routes) or
 * an upstream URL (proxied as the gateway proxies, passed through: the upstream authenticates).
 * No route matches: 404, naming nothing. Fastify only answers while the listener closes (503).
 */
export function frontListener(ctx: FrontContext): ListenerParts {
  return {
    front: {
      request: (req, res, continued) => {
        const started = performance.now();
        const host = requestHost(authority(req));
        const route = host === undefined ? undefined : matchRoute(ctx.routes(), host, req.url ?? '/');
        const refuse = (status: number, message: string): void => {
          answer(req, res, status, message);
          ctx.record(req.method ?? '', status, (performance.now() - started) / 1000);
        };
        if (host === undefined) {
          refuse(400, 'the Host header is not a host name');
        } else if (route === undefined) {
          refuse(404, 'not found');
        } else if (route.target.kind === 'listener') {
          const entry = ctx.listener(route.target.name);
          if (!entry) refuse(503, 'this service is not running; retry shortly');
          else {
            keepDeadline(req, res, entry.requestTimeoutMs());
            if (continued) entry.checkContinue(req, res);
            else entry.request(req, res);
          }
        } else {
          const upstream = ctx.upstream(route.target.origin);
          if (upstream) upstream.request(req, res);
          else refuse(503, 'this service is not running; retry shortly');
        }
        return true;
      },
      upgrade: (req, socket, head) => {
        const host = requestHost(authority(req));
        const route = host === undefined ? undefined : matchRoute(ctx.routes(), host, req.url ?? '/');
        if (host === undefined) refuseUpgrade(socket, '400 Bad Request');
        else if (route === undefined) refuseUpgrade(socket, '404 Not Found');
        else if (route.target.kind === 'listener') {
          const entry = ctx.listener(route.target.name);
          if (entry) entry.upgrade(req, socket, head);
          else refuseUpgrade(socket, '503 Service Unavailable');
        } else {
          const upstream = ctx.upstream(route.target.origin);
          if (upstream) upstream.upgrade(req, socket, head);
          else refuseUpgrade(socket, '503 Service Unavailable');
        }
        return true;
      },
    },
    // Nothing reaches Fastify while the front door is open; while closing, Fastify's 503.
    routes: () => undefined,
  };
}
