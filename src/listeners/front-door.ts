import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';

/**
 * A listener's own handling before Fastify (the data listener's gateway): node's raw request, a
 * request with `Expect: 100-continue` (the front door decides when to let the body come), and
 * upgrades. Returning false leaves the request to Fastify's routes; an upgrade nobody takes is refused.
 */
export interface FrontDoor {
  /** `continued`: the request came with `Expect: 100-continue`, and nothing has answered it yet. */
  request(req: IncomingMessage, res: ServerResponse, continued: boolean): boolean;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

/**
 * How a request gets into a listener: what its server's events call, and what the front
 * listener calls for a route to it (so a routed request takes the same path as a direct one).
 */
export interface ListenerEntry {
  readonly request: (req: IncomingMessage, res: ServerResponse) => void;
  /** A request with `Expect: 100-continue`, before its body is let in. */
  readonly checkContinue: (req: IncomingMessage, res: ServerResponse) => void;
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** The front door first (while the listener is not closing: then Fastify answers 503), then Fastify (`handler`). */
export function listenerEntry(front: FrontDoor | undefined, handler: (req: IncomingMessage, res: ServerResponse) => void, closing: () => boolean): ListenerEntry {
  return {
    request: front
      ? (req, res) => {
          if (closing() || !front.request(req, res, false)) handler(req, res);
        }
      : handler,
    checkContinue: (req, res) => {
      if (!closing() && front?.request(req, res, true) === true) return;
      res.writeContinue();
      handler(req, res);
    },
    upgrade: (req, socket, head) => {
      if (!closing() && front?.upgrade(req, socket, head) === true) return;
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    },
  };
}

/** Expect: 100-continue and upgrades reach the entry too (without a front door, node's defaults handle them). */
export function openFrontDoor(server: HttpServer | HttpsServer, entry: ListenerEntry): void {
  server.on('checkContinue', entry.checkContinue);
  server.on('upgrade', entry.upgrade);
}
