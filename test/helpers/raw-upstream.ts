import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

/**
 * An upstream that answers with bytes written by hand, for what node's HTTP server would never
 * send: `answers` maps a request path to the raw response (a function may write more, or stall).
 */
export async function startRawUpstream(answers: Record<string, string | ((socket: Socket) => void)>): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const path = head.split(' ')[1] ?? '';
      head = head.slice(end + 4);
      const answer = answers[path] ?? 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n';
      if (typeof answer === 'string') socket.write(answer, 'latin1');
      else answer(socket);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
