import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';

/** One request as the stand-in received it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
}

const SEEN_LIMIT = 200;
const MAX_FAILURES = 5;
const LOCK_MS = 60 * 60_000;
const TOKEN_SECONDS = 6 * 3600;
const CHUNK = 64 * 1024;
const PERIOD = 251;
/** Bytes j % 251, long enough that any 64 KiB chunk of the pattern is a view into it (no copies). */
const PATTERN = Buffer.from(Array.from({ length: CHUNK + PERIOD }, (_, j) => j % PERIOD));

const HELLO_BODY = Buffer.from('hello world\n');
const HELLO_HEADERS = { 'content-type': 'text/plain', 'content-length': String(HELLO_BODY.length) };

/** The mutable state behind one stand-in: accounts, lockouts, what it saw, and who waits for what. */
export class StandInState {
  private readonly key = randomBytes(32);
  private readonly ring: SeenRequest[] = [];
  private next = 0;
  private readonly failures = new Map<string, number>();
  private readonly lockedUntil = new Map<string, number>();
  private readonly counts = { abort: new Map<string, number>(), request: new Map<string, number>() };
  // Each waitFor* call consumes one event, so an event that came before the call is not missed.
  private readonly consumed = { abort: new Map<string, number>(), request: new Map<string, number>() };
  private readonly waiters = { abort: new Map<string, (() => void)[]>(), request: new Map<string, (() => void)[]>() };
  authAttempts = 0;
  /** Set while the stand-in itself destroys sockets: those are not client aborts. */
  stopping = false;

  constructor(readonly users: Record<string, string>) {}

  get aborted(): ReadonlyMap<string, number> {
    return this.counts.abort;
  }

  get seen(): SeenRequest[] {
    return this.ring.length < SEEN_LIMIT ? this.ring.slice() : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  /** A ring buffer: recording stays O(1) on the benchmark's hot path. */
  record(req: IncomingMessage): void {
    const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders };
    if (this.ring.length < SEEN_LIMIT) this.ring.push(entry);
    else this.ring[this.next] = entry;
    this.next = (this.next + 1) % SEEN_LIMIT;
  }

  note(kind: 'abort' | 'request', pathname: string): void {
    this.counts[kind].set(pathname, (this.counts[kind].get(pathname) ?? 0) + 1);
    const queue = this.waiters[kind].get(pathname);
    const resolve = queue?.shift();
    if (resolve) {
      this.consume(kind, pathname);
      resolve();
    }
  }

  waitFor(kind: 'abort' | 'request', pathname: string): Promise<void> {
    if ((this.counts[kind].get(pathname) ?? 0) > (this.consumed[kind].get(pathname) ?? 0)) {
      this.consume(kind, pathname);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const queue = this.waiters[kind].get(pathname) ?? [];
      queue.push(resolve);
      this.waiters[kind].set(pathname, queue);
    });
  }

  private consume(kind: 'abort' | 'request', pathname: string): void {
    this.consumed[kind].set(pathname, (this.consumed[kind].get(pathname) ?? 0) + 1);
  }

  /** Whether `username` may log in with `password`; 5 failures lock the name for an hour, like the product. */
  login(username: string, password: string): boolean {
    const now = Date.now();
    const until = this.lockedUntil.get(username);
    if (until !== undefined && until > now) return false;
    if (until !== undefined) {
      this.lockedUntil.delete(username);
      this.failures.delete(username);
    }
    const expected = this.users[username];
    if (expected !== undefined && safeEqual(expected, password)) {
      this.failures.delete(username);
      return true;
    }
    const failures = (this.failures.get(username) ?? 0) + 1;
    this.failures.set(username, failures);
    if (failures >= MAX_FAILURES) this.lockedUntil.set(username, now + LOCK_MS);
    return false;
  }

  sign(claims: Record<string, unknown>): string {
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    return `${head}.${body}.${this.mac(`${head}.${body}`).toString('base64url')}`;
  }

  /** The claims of a bearer token this instance signed and that has not expired; undefined otherwise. */
  verify(authorization: string | undefined): Record<string, unknown> | undefined {
    const match = /^Bearer\s+([\w-]+)\.([\w-]+)\.([\w-]+)$/i.exec(authorization ?? '');
    if (!match) return undefined;
    const [, head = '', body = '', signature = ''] = match;
    const given = Buffer.from(signature, 'base64url');
    const wanted = this.mac(`${head}.${body}`);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
      return typeof claims.exp === 'number' && claims.exp * 1000 > Date.now() ? claims : undefined;
    } catch {
      return undefined;
    }
  }

  private mac(data: string): Buffer {
    return createHmac('sha256', this.key).update(data).digest();
  }
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function unauthorized(res: ServerResponse, message: string): void {
  sendJson(res, 401, { status: 401, message }, { 'www-authenticate': 'Bearer' });
}

/** Reads a small JSON body (the auth requests); undefined when it is not a JSON object. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > 64 * 1024) return undefined;
    parts.push(part);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(parts).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The sha256 of what `GET /download?bytes=N` sends, computed in 64 KiB pieces. */
export function expectedDownloadSha256(bytes: number): string {
  const hash = createHash('sha256');
  for (let offset = 0; offset < bytes; offset += CHUNK) hash.update(patternAt(offset, Math.min(CHUNK, bytes - offset)));
  return hash.digest('hex');
}

function patternAt(offset: number, length: number): Buffer {
  const start = offset % PERIOD;
  return PATTERN.subarray(start, start + length);
}

/** A non-negative integer query parameter, the fallback when absent, undefined when malformed. */
function intParam(url: URL, name: string, fallback: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  return /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
}

/** Answers one HTTP request the way the product's data port would. */
export function handleRequest(state: StandInState, req: IncomingMessage, res: ServerResponse): void {
  state.record(req);
  // The benchmark's answer: before any parsing or listeners.
  if (req.url === '/hello' && req.method === 'GET') {
    res.writeHead(200, HELLO_HEADERS);
    res.end(HELLO_BODY);
    return;
  }
  const url = new URL(req.url ?? '/', 'http://stand-in');
  const path = url.pathname;
  res.once('close', () => {
    if (!res.writableFinished && !state.stopping) state.note('abort', path);
  });
  state.note('request', path);
  route(state, req, res, url).catch((error: unknown) => {
    if (!res.headersSent) sendJson(res, 500, { status: 500, message: String(error) });
    else res.destroy();
  });
}

async function route(state: StandInState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { method = '' } = req;
  const path = url.pathname;
  if (path === '/api/v1/auth' && method === 'POST') {
    state.authAttempts++;
    const body = await readJson(req);
    if (!body || typeof body.username !== 'string' || typeof body.password !== 'string') {
      sendJson(res, 400, { status: 400, message: 'Expected a JSON body with username and password' });
      return;
    }
    if (!state.login(body.username, body.password)) {
      sendJson(res, 401, { status: 401, message: 'Invalid credentials or account locked' });
      return;
    }
    const iat = Math.floor(Date.now() / 1000);
    const user = body.username;
    const claims = {
      iss: 'StandIn', sub: user, CN: `CN=${user}/O=StandIn`, aud: 'Domino', email: `${user}@stand-in.example`,
      scope: typeof body.scope === 'string' ? body.scope : '$DATA', iat, exp: iat + TOKEN_SECONDS,
    };
    sendJson(res, 200, { bearer: state.sign(claims), claims, leeway: 5, expSeconds: TOKEN_SECONDS });
    return;
  }
  if (path === '/api/v1/auth/logout' && method === 'POST') {
    req.resume();
    if (state.verify(req.headers.authorization)) sendJson(res, 200, {});
    else unauthorized(res, 'Not authenticated');
    return;
  }
  if (path === '/api/v1/userinfo' && method === 'GET') {
    const claims = state.verify(req.headers.authorization);
    if (!claims) {
      unauthorized(res, 'Missing, invalid or expired bearer token');
      return;
    }
    const { iss, sub, CN, aud, email, scope } = claims;
    sendJson(res, 200, { sub, CN, email, iss, aud, scope });
    return;
  }
  if (path === '/echo/headers') {
    req.resume();
    req.once('end', () => {
      sendJson(res, 200, { method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, httpVersion: req.httpVersion });
    });
    return;
  }
  if (path === '/upload' && (method === 'PUT' || method === 'POST')) {
    // Hashed as it arrives: a proxy's streaming (not buffering) is what gets tested, not ours.
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.once('end', () => sendJson(res, 200, { bytes, sha256: hash.digest('hex') }));
    req.once('error', () => res.destroy());
    return;
  }
  if (path === '/download' && method === 'GET') {
    const total = intParam(url, 'bytes', 1024 * 1024);
    if (total === undefined) {
      sendJson(res, 400, { status: 400, message: 'bytes must be a non-negative integer' });
      return;
    }
    const chunked = url.searchParams.get('chunked') === '1';
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...(chunked ? {} : { 'content-length': String(total) }) });
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const chunk = patternAt(sent, Math.min(CHUNK, total - sent));
        sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  if (path === '/redirect' && method === 'GET') {
    // The product sends cross-server scopes to another host: a proxy must leave this Location alone.
    const location = 'https://other.example.com:8880/api/v1/userinfo?scope=x';
    sendJson(res, 302, { status: 302, location }, { location });
    return;
  }
  if (path === '/relative-redirect' && method === 'GET') {
    sendJson(res, 302, { status: 302, location: '/api/v1/userinfo' }, { location: '/api/v1/userinfo' });
    return;
  }
  if (path === '/slow' && method === 'GET') {
    const ms = intParam(url, 'ms', 1000);
    if (ms === undefined) {
      sendJson(res, 400, { status: 400, message: 'ms must be a non-negative integer' });
      return;
    }
    const timer = setTimeout(() => sendJson(res, 200, { waited: ms }), ms);
    res.once('close', () => clearTimeout(timer));
    return;
  }
  if (path === '/stall-body' && method === 'GET') {
    // Headers and a first chunk, then nothing: the abort is recorded when the client gives up.
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first chunk\n');
    return;
  }
  const status = /^\/status\/(\d{3})$/.exec(path)?.[1];
  if (status !== undefined) {
    const code = Number(status);
    if (code < 200) sendJson(res, 400, { status: 400, message: 'status must be 200..599' });
    else if (code === 204 || code === 304) res.writeHead(code).end();
    else sendJson(res, code, { status: code });
    return;
  }
  if (path === '/set-cookies' && method === 'GET') {
    // Two Set-Cookie fields: a proxy must keep them apart (they cannot be joined with commas).
    res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    sendJson(res, 200, { status: 200 });
    return;
  }
  if (path === '/set-headers' && method === 'GET') {
    // A correct proxy passes X-Product and drops the hop-by-hop Keep-Alive and Connection headers,
    // and X-Drop-Me because Connection names it. (Node keeps the connection open: the Connection
    // value has no `close`, and setting Connection stops Node adding its own keep-alive headers.)
    res.setHeader('Keep-Alive', 'timeout=5');
    res.setHeader('X-Drop-Me', '1');
    res.setHeader('Connection', 'X-Drop-Me');
    res.setHeader('X-Product', 'yes');
    sendJson(res, 200, { status: 200 });
    return;
  }
  req.resume();
  sendJson(res, 404, { status: 404, message: 'not found' });
}

/** Writes a raw HTTP/1.1 answer on a socket that asked to upgrade, and closes it. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

/** The product's event bus: a WebSocket on /api/v1/events that echoes every message. */
export function handleUpgrade(state: StandInState, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  state.record(req);
  socket.on('error', () => socket.destroy());
  const url = new URL(req.url ?? '/', 'http://stand-in');
  if (url.pathname !== '/api/v1/events') {
    refuseUpgrade(socket, 404, 'Not Found', { status: 404, message: 'not found' });
    return;
  }
  if (url.searchParams.get('auth') === 'required' && !state.verify(req.headers.authorization)) {
    refuseUpgrade(socket, 401, 'Unauthorized', { status: 401, message: 'Missing, invalid or expired bearer token' });
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => ws.terminate());
  });
}
