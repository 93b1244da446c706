import type { EventEmitter } from 'node:events';
import { ServerResponse, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { NodeRequest, NodeResponse, RequestHandler } from '../support/node-http.js';

/**
 * A listener's own handling before Fastify (the data listener's gateway): node's raw request
 * (HTTP/1.1 or HTTP/2), a request with `Expect: 100-continue` (the front door decides when to let
 * the body come), and upgrades (HTTP/1.1 only). Returning false leaves the request to Fastify's
 * routes; an upgrade nobody takes is refused.
 */
export interface FrontDoor {
  /** `continued`: the request came with `Expect: 100-continue`, and nothing has answered it yet. */
  request(req: NodeRequest, res: NodeResponse, continued: boolean): boolean;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

/**
 * How a request gets into a listener: what its server's events call, and what the front
 * listener calls for a route to it (so a routed request takes the same path as a direct one).
 */
export interface ListenerEntry {
  readonly request: RequestHandler;
  /** A request with `Expect: 100-continue`, before its body is let in. */
  readonly checkContinue: RequestHandler;
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** The listener's whole-request deadline (limits.requestTimeoutMs; 0: none), which a routed request keeps. */
  readonly requestTimeoutMs: () => number;
}

const isWebSocket = (req: IncomingMessage): boolean => /^websocket$/i.test(req.headers.upgrade ?? '');
const hasBody = (req: IncomingMessage): boolean => req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';

/**
 * An `Upgrade` keepd does not take (`h2c` from `curl --http2` on plain http, say) on a request
 * without a body: answered as the request it also is, as node does on a server that takes no
 * upgrades, then the connection is closed (node has already let go of it).
 */
function asPlainRequest(req: IncomingMessage, socket: Socket, serve: (req: IncomingMessage, res: ServerResponse) => void): void {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.once('finish', () => {
    res.detachSocket(socket);
    socket.end();
  });
  serve(req, res);
}

/** The front door first (while the listener is not closing: then Fastify answers 503), then Fastify (`handler`). */
export function listenerEntry(front: FrontDoor | undefined, handler: RequestHandler, closing: () => boolean, requestTimeoutMs: () => number): ListenerEntry {
  const request: RequestHandler = front
    ? (req, res) => {
        if (closing() || !front.request(req, res, false)) handler(req, res);
      }
    : handler;
  return {
    request,
    checkContinue: (req, res) => {
      if (!closing() && front?.request(req, res, true) === true) return;
      res.writeContinue();
      handler(req, res);
    },
    upgrade: (req, socket, head) => {
      // node's upgrade sockets are net (or TLS) sockets.
      if (!isWebSocket(req) && !hasBody(req) && head.length === 0 && socket instanceof Socket) {
        asPlainRequest(req, socket, request);
        return;
      }
      if (!closing() && front?.upgrade(req, socket, head) === true) return;
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    },
    requestTimeoutMs,
  };
}

/**
 * Expect: 100-continue (HTTP/1.1 and HTTP/2) and upgrades (HTTP/1.1) reach the entry too (without
 * a front door, node's defaults handle them).
 */
export function openFrontDoor(server: Pick<EventEmitter, 'on'>, entry: ListenerEntry): void {
  server.on('checkContinue', entry.checkContinue);
  server.on('upgrade', entry.upgrade);
}
