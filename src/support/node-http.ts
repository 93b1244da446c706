import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { constants, Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/*
 * A request as a listener's server hands it over: HTTP/1.1 (node:http) or HTTP/2 (node:http2's
 * compatibility API, on TLS listeners). The few places where the two differ are here.
 */

export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;
export type RequestHandler = (req: NodeRequest, res: NodeResponse) => void;

export function isHttp2(res: NodeResponse): res is Http2ServerResponse {
  return res instanceof Http2ServerResponse;
}

/** The request carries a body: HTTP/1.1 says so in its framing headers, HTTP/2 by not ending the stream with its headers. */
export function hasBody(req: NodeRequest): boolean {
  if (req instanceof Http2ServerRequest) return !req.stream.endAfterHeaders;
  return req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
}

/**
 * The whole request has arrived (its body too, read or not). HTTP/2's `complete` only turns true
 * once the body is read: the stream's state says whether the client has ended it.
 */
export function requestArrived(req: NodeRequest): boolean {
  if (!(req instanceof Http2ServerRequest)) return req.complete;
  return req.complete || req.stream.endAfterHeaders || req.stream.state.remoteClose === 1;
}

/** Cuts a request whose answer has begun: HTTP/1.1 its connection, HTTP/2 its stream. */
export function cutRequest(req: NodeRequest, res: NodeResponse): void {
  if (isHttp2(res)) res.stream.close(constants.NGHTTP2_CANCEL);
  else req.destroy();
}

/** The client has gone (its connection, or on HTTP/2 its stream, is destroyed). */
export function responseGone(res: NodeResponse): boolean {
  return isHttp2(res) ? res.stream.destroyed : res.destroyed;
}

/** Flat [name, value, ...] pairs as an object, repeated names (Set-Cookie) as arrays: each still its own field. */
function headerObject(pairs: readonly string[]): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < pairs.length; i += 2) {
    const name = (pairs[i] ?? '').toLowerCase();
    const value = pairs[i + 1] ?? '';
    const seen = out[name];
    out[name] = seen === undefined ? value : [seen, value].flat();
  }
  return out;
}

/**
 * The head of an answer. HTTP/2 has no reason phrase (node warns when given one): `reason` is
 * only sent over HTTP/1.1. Connection-specific headers must not be among `headers` (HTTP/2 refuses them).
 */
export function writeHead(res: NodeResponse, statusCode: number, headers: OutgoingHttpHeaders | string[], reason?: string): void {
  if (isHttp2(res)) res.writeHead(statusCode, Array.isArray(headers) ? headerObject(headers) : headers);
  else if (reason === undefined) res.writeHead(statusCode, headers);
  else res.writeHead(statusCode, reason, headers);
}

/** Writes a body chunk; false: wait for 'drain'. */
export function writeChunk(res: NodeResponse, chunk: Buffer): boolean {
  return isHttp2(res) ? res.write(chunk) : res.write(chunk);
}

/** Sends the head now, before the first body chunk (a stream of unknown length). */
export function flushHeaders(res: NodeResponse): void {
  if (isHttp2(res)) {
    if (!res.headersSent) res.writeHead(res.statusCode);
  } else res.flushHeaders();
}

/**
 * The answer is given before the request body was read to its end: over HTTP/1.1 the connection
 * closes after it (it cannot carry another request); over HTTP/2 the stream is reset with
 * NO_ERROR once the answer is out (RFC 9113 8.1: the client stops sending), the connection stays.
 * Call before the answer is written.
 */
export function closeAfterAnswer(res: NodeResponse): void {
  if (!isHttp2(res)) {
    res.shouldKeepAlive = false;
    return;
  }
  // The stream's own 'finish' (its side sent); the response's comes only once the stream has closed.
  const { stream } = res;
  stream.once('finish', () => {
    if (!stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
  });
}
