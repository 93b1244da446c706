import { createServer, type Server } from 'node:http';
import type { AcmeChallenges } from './challenges.js';

const PREFIX = '/.well-known/acme-challenge/';

/**
 * http-01: a plain HTTP server on acme.httpPort, open only while an order is under way. It
 * answers GET /.well-known/acme-challenge/<token> with the key authorization, and nothing else.
 */
export async function openHttpChallenges(port: number, host: string | undefined, challenges: AcmeChallenges): Promise<{ close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0] ?? '';
    const answer = path.startsWith(PREFIX) && (request.method === 'GET' || request.method === 'HEAD') ? challenges.http(path.slice(PREFIX.length)) : undefined;
    response.setHeader('cache-control', 'no-store');
    if (answer === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('keepd answers only ACME http-01 challenges on this port\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(answer) }).end(request.method === 'HEAD' ? undefined : answer);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${host ?? 'all interfaces'} port ${port}`;
      const why =
        error.code === 'EACCES'
          ? 'permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE)'
          : error.code === 'EADDRINUSE'
            ? 'the port is in use by another program'
            : error.message;
      reject(new Error(`cannot answer the http-01 challenge on ${where} (acme.httpPort): ${why}`));
    });
    server.listen(port, host, () => resolve());
  });
  return {
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
