import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import path from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { TEST_CA } from './http-client.js';
import { FIXTURES } from './paths.js';

/* HTTP/2 clients for the tests: curl (nghttp2), node:http2, and a few hand-made frames. */

const run = promisify(execFile);
const CA_FILE = path.join(FIXTURES, 'tls', 'ca.cert.pem');

export const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

export interface CurlAnswer {
  /** `%{http_version}`: "2", "1.1"... */
  version: string;
  status: number;
  /** Response header lines, lower-case names (the last response's, after any 100 Continue). */
  headers: Map<string, string[]>;
  body: string;
}

/** `curl --http2` (ALPN h2, else http/1.1) against the test CA; extra arguments before the URL. */
export async function curlHttp2(url: string, args: string[] = []): Promise<CurlAnswer> {
  const { stdout } = await run('curl', ['-sS', '--http2', '--cacert', CA_FILE, '-i', '-w', '\n%{http_version} %{http_code}', ...args, url], { encoding: 'utf8', timeout: 15_000 });
  const last = stdout.lastIndexOf('\n');
  const [version = '', status = '0'] = stdout.slice(last + 1).split(' ');
  const text = stdout.slice(0, last);
  // Several heads (100 Continue first): the last one is the answer's.
  const heads = text.split(/\r\n\r\n/);
  let index = 0;
  while (index < heads.length - 1 && /^HTTP\/[\d.]+ 1\d\d/.test(heads[index] ?? '')) index += 1;
  const head = heads[index] ?? '';
  const headers = new Map<string, string[]>();
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { version, status: Number(status), headers, body: heads.slice(index + 1).join('\r\n\r\n') };
}

/**
 * A node:http2 session to a keepd listener (ALPN h2 against the test CA), once it has the
 * server's SETTINGS: they bind the client only from its acknowledgement, which is sent then.
 */
export async function h2Session(port: number, options: { servername?: string; localAddress?: string } = {}): Promise<ClientHttp2Session> {
  const session = connect(`https://localhost:${port}`, { ca: TEST_CA, servername: options.servername ?? 'localhost', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
  await Promise.all([once(session, 'connect'), once(session, 'remoteSettings')]);
  return session;
}

export interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json: () => unknown;
}

/**
 * One request on a session; rejects with the stream's error, or when the stream closes before its
 * whole answer came (a reset, a cut connection). `body` undefined: no body (END_STREAM with the headers).
 */
export function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let answer: IncomingHttpHeaders | undefined;
    let ended = false;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (received) => (answer = received));
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => (ended = true));
    stream.on('error', reject);
    stream.on('close', () => {
      if (answer && ended && stream.rstCode === constants.NGHTTP2_NO_ERROR) resolve({ status: Number(answer[':status']), headers: answer, body: text, json: () => JSON.parse(text) as unknown });
      else reject(new Error(`the stream closed (code ${stream.rstCode}) before its whole answer came`));
    });
    if (body !== undefined) stream.end(body);
  });
}

/* Hand-made frames (RFC 9113 4.1), for what node's client will not do: ignore the server's stream limit. */

const FRAME = { HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, GOAWAY: 0x7 } as const;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK string length (7-bit prefix integer, no Huffman). */
function hpackLength(length: number): Buffer {
  if (length < 127) return Buffer.from([length]);
  const bytes = [127];
  let rest = length - 127;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A header block of literals without indexing, new names (RFC 7541 6.2.2): no table, no Huffman. */
function headerBlock(headers: [string, string][]): Buffer {
  return Buffer.concat(headers.flatMap(([name, value]) => [Buffer.from([0]), hpackLength(Buffer.byteLength(name)), Buffer.from(name), hpackLength(Buffer.byteLength(value)), Buffer.from(value)]));
}

export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A raw HTTP/2 connection: frames out as given, frames in as they come. */
export class RawH2 {
  readonly frames: RawFrame[] = [];
  readonly #socket: TLSSocket;
  #pending = Buffer.alloc(0);
  readonly #waiters: { match: (frame: RawFrame) => boolean; resolve: (frame: RawFrame) => void }[] = [];

  private constructor(socket: TLSSocket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', () => socket.destroy());
  }

  /** Connects with ALPN h2 and sends the preface and an empty SETTINGS (not acknowledging the server's). */
  static async open(port: number): Promise<RawH2> {
    const socket = connectTls({ host: '127.0.0.1', port, servername: 'localhost', ca: TEST_CA, ALPNProtocols: ['h2'] });
    await once(socket, 'secureConnect');
    if (socket.alpnProtocol !== 'h2') throw new Error(`ALPN gave ${String(socket.alpnProtocol)}, not h2`);
    socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0))]));
    return new RawH2(socket);
  }

  #read(chunk: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    while (this.#pending.length >= 9) {
      const length = this.#pending.readUIntBE(0, 3);
      if (this.#pending.length < 9 + length) return;
      const received: RawFrame = { type: this.#pending.readUInt8(3), flags: this.#pending.readUInt8(4), streamId: this.#pending.readUInt32BE(5) & 0x7fffffff, payload: this.#pending.subarray(9, 9 + length) };
      this.#pending = this.#pending.subarray(9 + length);
      this.frames.push(received);
      for (const waiter of [...this.#waiters]) {
        if (waiter.match(received)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(received);
        }
      }
    }
  }

  /** The first frame (so far or to come) that matches. */
  next(match: (frame: RawFrame) => boolean): Promise<RawFrame> {
    const seen = this.frames.find(match);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS, from its first SETTINGS frame. */
  async maxConcurrentStreams(): Promise<number | undefined> {
    const settings = await this.next((f) => f.type === FRAME.SETTINGS && (f.flags & 0x1) === 0);
    for (let at = 0; at + 6 <= settings.payload.length; at += 6) {
      if (settings.payload.readUInt16BE(at) === SETTINGS_MAX_CONCURRENT_STREAMS) return settings.payload.readUInt32BE(at + 2);
    }
    return undefined;
  }

  /** HEADERS frames for these streams, in one write; `endStream`: no body follows. */
  sendHeaders(streams: { id: number; headers: [string, string][] }[], endStream: boolean): void {
    this.#socket.write(Buffer.concat(streams.map((s) => frame(FRAME.HEADERS, 0x4 | (endStream ? 0x1 : 0), s.id, headerBlock(s.headers)))));
  }

  /** The error code of the RST_STREAM for a stream, when it comes. */
  async reset(streamId: number): Promise<number> {
    const rst = await this.next((f) => f.type === FRAME.RST_STREAM && f.streamId === streamId);
    return rst.payload.readUInt32BE(0);
  }

  resets(): RawFrame[] {
    return this.frames.filter((f) => f.type === FRAME.RST_STREAM);
  }

  close(): void {
    this.#socket.destroy();
  }
}
