import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { FIXTURES } from './paths.js';

export const TEST_CA = readFileSync(path.join(FIXTURES, 'tls', 'ca.cert.pem'));

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Serial number of the certificate the server presented (TLS only). */
  serialNumber: string | undefined;
  json: () => unknown;
}

export interface RequestOptions {
  method?: string;
  auth?: [string, string];
  headers?: Record<string, string>;
  body?: string | object;
  ca?: Buffer | string;
  agent?: HttpsAgent;
  /** Local address to connect from (127.0.0.0/8 gives as many loopback clients as needed). */
  localAddress?: string;
  /** Send the body in pieces, pausing between them (a request that stays in flight). */
  trickle?: { chunks: string[]; intervalMs: number };
  /**
   * Sends `Expect: 100-continue` and calls this when the server answers `100 Continue`: proof that
   * it has read the request head and is handling the request (it is in flight, not queued or idle).
   */
  onContinue?: () => void;
}

/** A real HTTP(S) client request (node:http/https), verifying TLS against the test CA by default. */
export function request(url: string, options: RequestOptions = {}): Promise<Response> {
  const target = new URL(url);
  const headers: Record<string, string> = { ...options.headers };
  if (options.onContinue) headers.expect = '100-continue';
  if (options.auth) headers.authorization = `Basic ${Buffer.from(`${options.auth[0]}:${options.auth[1]}`, 'utf8').toString('base64')}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  if (options.trickle) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(options.trickle.chunks.join('')));
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      // No agent by default: a fresh connection per request, none left open to delay the test's exit.
      { method: options.method ?? 'GET', headers, ca: options.ca ?? TEST_CA, agent: options.agent ?? false, servername: 'localhost', ...(options.localAddress ? { localAddress: options.localAddress } : {}) },
      (res) => {
        // Read the peer certificate now: by 'end' the socket may be back in the agent's pool.
        const socket = res.socket as TLSSocket | null;
        const peer = socket && typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            serialNumber: peer && 'serialNumber' in peer ? peer.serialNumber : undefined,
            json: () => JSON.parse(text) as unknown,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.onContinue) req.once('continue', options.onContinue);
    if (options.trickle) {
      const { chunks, intervalMs } = options.trickle;
      let index = 0;
      const next = (): void => {
        if (req.destroyed) return;
        const chunk = chunks[index++];
        if (chunk === undefined) {
          req.end();
          return;
        }
        req.write(chunk);
        setTimeout(next, intervalMs);
      };
      next();
      return;
    }
    req.end(body);
  });
}
