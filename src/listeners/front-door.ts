import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';

/**
 * A listener's own handling before Fastify (the data listener's gateway): node's raw request, a
 * request with `Expect: 100-continue` (the front door decides when to let the body come), and
 * upgrades. Returning false leaves the request to Fastify's routes; an upgrade nobody takes is refused.
 */
export interface FrontDoor {
  request(req: IncomingMessage, res: ServerResponse): boolean;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

/** Expect: 100-continue and upgrades go to the front door too (while the listener is not closing); what it leaves goes to Fastify. */
export function openFrontDoor(server: HttpServer | HttpsServer, front: FrontDoor, handler: (req: IncomingMessage, res: ServerResponse) => void, closing: () => boolean): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!closing() && front.request(req, res)) return;
    res.writeContinue();
    handler(req, res);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!closing() && front.upgrade(req, socket, head)) return;
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
}