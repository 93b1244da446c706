/**
 * The physical limit for keepd's gateway: the fastest bare Node https -> http reverse proxy we
 * could write, doing what a correct proxy must and nothing else: hop-by-hop headers dropped,
 * X-Real-IP and X-Forwarded-For/Proto/Host/Port set (as the nginx how-to does), bodies streamed
 * both ways with backpressure, the upstream request aborted when the client goes away, 502 when
 * the upstream fails. Same certificate and TLS settings as keepd. Variants (the benchmark keeps
 * the fastest as the baseline):
 *
 *   dispatch  undici Pool, pool.dispatch() with a handler writing straight to the response
 *   stream    undici Pool, pool.stream() with the response as the writable
 *   request   undici Pool, pool.request() and pipeline(body, res)
 *   agent     node:http request() on a keep-alive Agent, piped
 *
 *   node dist/scripts/lib/gateway-bare-proxy.js VARIANT KEY CERT UPSTREAM_URL   (prints {"port": N})
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { pipeline } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { DEFAULT_CIPHERS } from '../../src/tls/tls-policy.js';

const BARE_VARIANTS = ['dispatch', 'stream', 'request', 'agent'] as const;
type BareVariant = (typeof BARE_VARIANTS)[number];

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Not forwarded either: node's server answers `Expect: 100-continue` itself, and undici refuses to send it. */
const DROPPED = new Set([...HOP_BY_HOP, 'expect']);

/** The request headers for the upstream, flat [name, value, ...] as undici takes them. */
function forwardHeaders(req: IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    if (!DROPPED.has(name.toLowerCase())) out.push(name, raw[i + 1] ?? '');
  }
  const client = req.socket.remoteAddress ?? '';
  out.push('x-real-ip', client, 'x-forwarded-for', client, 'x-forwarded-proto', 'https', 'x-forwarded-host', req.headers.host ?? '', 'x-forwarded-port', String(req.socket.localPort ?? 0));
  return out;
}

/** The upstream's response headers for the client, flat, hop-by-hop dropped (node frames the body itself). */
function backHeaders(raw: readonly (Buffer | string)[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = String(raw[i]);
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, String(raw[i + 1]));
  }
  return out;
}

function badGateway(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.shouldKeepAlive = false;
  res.writeHead(502, { 'content-type': 'text/plain', 'content-length': '12' }).end('bad gateway\n');
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
}

/** pool.dispatch(): undici's own callback interface, no intermediate stream on the way back. */
class Forward implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse;
  #abort: ((error?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #held: Buffer | undefined;
  #wrote = false;

  constructor(res: ServerResponse) {
    this.#res = res;
    res.once('close', () => {
      if (!res.writableFinished) this.#abort?.(new Error('client gone'));
    });
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    this.#resume = resume;
    this.#res.writeHead(statusCode, statusText, backHeaders(rawHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    // The same trick as keepd's exchange.ts: the first chunk waits, so that a small answer leaves
    // with its headers in one write (the baseline must be the fastest proxy we can write).
    const held = this.#held;
    if (held === undefined && !this.#wrote) {
      this.#held = chunk;
      return true;
    }
    this.#held = undefined;
    this.#wrote = true;
    if (held !== undefined) this.#res.write(held);
    if (this.#res.write(chunk)) return true;
    if (this.#resume) this.#res.once('drain', this.#resume);
    return false;
  }

  onComplete(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held === undefined) this.#res.end();
    else this.#res.end(held);
  }

  onError(): void {
    badGateway(this.#res);
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function undiciHandler(variant: Exclude<BareVariant, 'agent'>, origin: string): Handler {
  const pool = new Pool(origin, { keepAliveTimeout: 10_000 });
  const options = (req: IncomingMessage): Dispatcher.RequestOptions => ({
    path: req.url ?? '/',
    method: req.method ?? 'GET',
    headers: forwardHeaders(req),
    body: hasBody(req) ? req : null,
  });
  if (variant === 'dispatch') return (req, res) => void pool.dispatch(options(req), new Forward(res));
  if (variant === 'stream') {
    return (req, res) => {
      const signal = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) signal.abort();
      });
      pool
        .stream({ ...options(req), signal: signal.signal }, ({ statusCode, headers }) => {
          const flat: string[] = [];
          for (const [name, value] of Object.entries(headers)) {
            if (value === undefined || HOP_BY_HOP.has(name)) continue;
            for (const one of [value].flat()) flat.push(name, one);
          }
          res.writeHead(statusCode, flat);
          return res;
        })
        .catch(() => badGateway(res));
    };
  }
  return (req, res) => {
    const signal = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) signal.abort();
    });
    pool.request({ ...options(req), signal: signal.signal }).then(
      (answer) => {
        const flat: string[] = [];
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value === undefined || HOP_BY_HOP.has(name)) continue;
          for (const one of [value].flat()) flat.push(name, one);
        }
        res.writeHead(answer.statusCode, flat);
        pipeline(answer.body, res, () => undefined);
      },
      () => badGateway(res),
    );
  };
}

function agentHandler(origin: string): Handler {
  const url = new URL(origin);
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 256, scheduling: 'lifo' });
  return (req, res) => {
    const headers: OutgoingHttpHeaders = {};
    const flat = forwardHeaders(req);
    for (let i = 0; i < flat.length; i += 2) headers[(flat[i] ?? '').toLowerCase()] = flat[i + 1] ?? '';
    const upstream = httpRequest({ host: url.hostname, port: url.port, path: req.url, method: req.method, headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, backHeaders(answer.rawHeaders));
      pipeline(answer, res, () => undefined);
    });
    upstream.on('error', () => badGateway(res));
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (hasBody(req)) pipeline(req, upstream, () => undefined);
    else upstream.end();
  };
}

const [variant = 'dispatch', keyFile = '', certFile = '', upstream = ''] = process.argv.slice(2);
if (!(BARE_VARIANTS as readonly string[]).includes(variant)) throw new Error(`unknown variant ${variant}; one of ${BARE_VARIANTS.join(', ')}`);
const chosen = variant as BareVariant;
const server = createServer(
  { key: readFileSync(keyFile), cert: readFileSync(certFile), minVersion: 'TLSv1.2', ciphers: DEFAULT_CIPHERS.join(':'), honorCipherOrder: true, keepAliveTimeout: 10_000 },
  chosen === 'agent' ? agentHandler(upstream) : undiciHandler(chosen, upstream),
);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }));
});
process.on('SIGTERM', () => process.exit(0));
