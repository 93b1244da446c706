import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';

/*
 * Server-sent events (text/event-stream) for the management console: GET /log/stream and
 * GET /events. The handler returns a stream, so Fastify writes the head with the listener's
 * security headers, over HTTP/1.1 and HTTP/2 alike, and destroys the stream when the client
 * leaves. Every open stream ends when its listener begins to close: a console left open must not
 * hold up a drain.
 */

/** A comment line this often, so that proxies and idle timers see traffic. */
export const HEARTBEAT_MS = 15_000;

/** How often a stream checks it is still valid (the configuration it was opened under). */
const VALIDITY_CHECK_MS = 500;

/** A client that reads slower than events come: more than this waiting for it, and its stream ends. */
const MAX_PENDING_BYTES = 1024 * 1024;

/** Event streams open at once on one listener; more get 503 (each one holds a subscription and a buffer). */
export const MAX_STREAMS = 16;

export interface EventStream {
  /** Sends one event (`data` is one line of JSON; `id`, when given, comes back as Last-Event-ID on a reconnect). */
  send(event: string, data: string, id?: number): void;
  /** Runs once when the stream is over (client gone, listener closing, or end()). */
  onClose(cleanup: () => void): void;
  end(): void;
}

const openStreams = new WeakMap<FastifyInstance, Set<PassThrough>>();

/** Ends every open event stream of `app` when it begins to close (before Fastify waits for requests). */
export function closeStreamsOnClose(app: FastifyInstance): void {
  const streams = new Set<PassThrough>();
  openStreams.set(app, streams);
  app.addHook('preClose', (done) => {
    for (const stream of streams) stream.end();
    done();
  });
}

/** A listener already has MAX_STREAMS open: the caller answers 503. */
export function streamsFull(app: FastifyInstance): boolean {
  return (openStreams.get(app)?.size ?? 0) >= MAX_STREAMS;
}

/**
 * Starts an event stream as `reply`'s answer; the handler returns `reply` after setting it up.
 * `valid` is checked twice a second: once false (a reload applied: the account may be gone), the
 * stream ends, and a browser's EventSource reconnects, authenticating again.
 */
export function openEventStream(app: FastifyInstance, reply: FastifyReply, valid: () => boolean = () => true): EventStream {
  const stream = new PassThrough();
  const streams = openStreams.get(app);
  streams?.add(stream);
  const cleanups: (() => void)[] = [];
  const write = (text: string): void => {
    // A client that does not read is not buffered for without end.
    if (stream.writableLength + stream.readableLength > MAX_PENDING_BYTES) stream.destroy();
    else stream.write(text);
  };
  const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  const check = setInterval(() => {
    if (!valid()) stream.end();
  }, VALIDITY_CHECK_MS);
  check.unref();
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    clearInterval(check);
    streams?.delete(stream);
    for (const cleanup of cleanups) cleanup();
  };
  stream.once('close', close);
  stream.once('end', close);
  stream.once('finish', close);
  reply.raw.once('close', () => {
    close();
    stream.destroy();
  });
  void reply
    .code(200)
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-accel-buffering', 'no')
    .send(stream);
  // The head at once: a client waits for it before the first event. `retry`: an EventSource
  // whose stream ended (a reload) reconnects after half a second.
  stream.write(': keepd\nretry: 500\n\n');
  return {
    send: (event, data, id) => {
      if (!closed) write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`);
    },
    onClose: (cleanup) => {
      if (closed) cleanup();
      else cleanups.push(cleanup);
    },
    end: () => stream.end(),
  };
}
