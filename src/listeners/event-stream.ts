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

/** Starts an event stream as `reply`'s answer; the handler returns `reply` after setting it up. */
export function openEventStream(app: FastifyInstance, reply: FastifyReply): EventStream {
  const stream = new PassThrough();
  const streams = openStreams.get(app);
  streams?.add(stream);
  const cleanups: (() => void)[] = [];
  const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
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
  // The head at once: a client waits for it before the first event.
  stream.write(': keepd\n\n');
  return {
    send: (event, data, id) => {
      if (!closed) stream.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`);
    },
    onClose: (cleanup) => {
      if (closed) cleanup();
      else cleanups.push(cleanup);
    },
    end: () => stream.end(),
  };
}
