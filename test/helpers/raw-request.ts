import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { TEST_CA } from './http-client.js';

export interface RawAnswer {
  /** Status code of the first response line, if one came. */
  status: number | undefined;
  raw: string;
}

/**
 * Sends bytes exactly as given (a real client would refuse to send most malformed headers) and
 * reads until the server closes or `timeoutMs` passes.
 */
export function rawRequest(port: number, bytes: Buffer, options: { tls?: boolean; timeoutMs?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = options.tls === false
      ? connectTcp({ host: '127.0.0.1', port }, () => socket.write(bytes))
      : connectTls({ host: '127.0.0.1', port, servername: 'localhost', ca: TEST_CA }, () => socket.write(bytes));
    const finish = (): void => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      resolve({ status: match?.[1] ? Number(match[1]) : undefined, raw });
    };
    const timer = setTimeout(() => {
      socket.destroy();
    }, options.timeoutMs ?? 5000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', finish);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return; // the server hung up: read what came
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A GET with one extra header line, raw. */
export function requestWithHeader(path: string, header: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n`, 'latin1'), header, Buffer.from('\r\nConnection: close\r\n\r\n', 'latin1')]);
}
