import { STATUS_CODES } from 'node:http';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import { statusClass, type UpstreamMetrics, type UpstreamOutcome } from '../metrics/upstream-metrics.js';
import { closeAfterAnswer, flushHeaders, hasBody, responseGone, writeChunk, writeHead, type NodeRequest, type NodeResponse } from '../support/node-http.js';
import { BodyTooLarge, classifyFailure, codedError, failureBody, type UpstreamFailure } from './failures.js';
import { responseHeaders } from './forward-headers.js';
import type { Upstream } from './upstream.js';

/** A reason phrase node sends as it is (RFC 9112: HTAB, SP, VCHAR, obs-text). */
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Statuses that never have a body. */
const NO_BODY = new Set([204, 304]);

/** The client waits for `100 Continue` before it sends its body. */
export function expectsContinue(req: NodeRequest): boolean {
  return /100-continue/i.test(req.headers.expect ?? '');
}

/** How one exchange ended, for metrics, the throttle, health and the log. */
export interface ExchangeEnd {
  /** What the client got (the product's status, or keepd's 4xx/502/504; 0 when the client left first). */
  status: number;
  /** The product's own final status; 0 when it gave none. */
  answered: number;
  /** The request got to the product (a connection took it), answered or not. */
  reached: boolean;
  outcome: UpstreamOutcome;
  seconds: number;
  sent: number;
  received: number;
  failure?: UpstreamFailure;
  method: string;
  url: string;
  /** The client address keepd believes (trustedProxies applied). */
  client: string;
}

export interface ExchangeOptions {
  upstream: Upstream;
  metrics: UpstreamMetrics;
  hsts: string | undefined;
  /** When the request arrived (performance.now()). */
  started: number;
  client: string;
  /** The product's final status, as soon as its headers arrive. */
  answered?: (status: number) => void;
  ended(end: ExchangeEnd): void;
}

/**
 * A streamed request body on its way to the product: counted, held to bodyHandler.bodyLimit (for
 * bodies without a Content-Length), and watched for stalls (httpIdleTimeout).
 */
class BodyMeter extends Transform {
  bytes = 0;
  readonly #limit: number | undefined;
  readonly #stall: NodeJS.Timeout;

  /** `onStall(true)`: the product stopped reading (data waits on its side), not the client sending. */
  constructor(limit: number | undefined, idleMs: number, onStall: (productBehind: boolean) => void) {
    super();
    this.#limit = limit;
    this.#stall = setTimeout(() => onStall(this.readableLength > 0 || this.writableLength > 0), idleMs);
    this.once('close', () => clearTimeout(this.#stall));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.#stall.refresh();
    if (this.#limit !== undefined && this.bytes > this.#limit) callback(new BodyTooLarge(this.#limit));
    else callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    clearTimeout(this.#stall);
    callback();
  }
}

/**
 * One request forwarded to the product and its answer streamed back, as an undici dispatch
 * handler: no intermediate streams on the way back, backpressure from the client's socket
 * pauses the product's (onData returns false until 'drain'), and a client that goes away aborts
 * the upstream request.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly #req: NodeRequest;
  readonly #res: NodeResponse;
  readonly #options: ExchangeOptions;
  #abort: ((error?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #dispatched = 0;
  #reached = false;
  #answered = 0;
  #status = 0;
  #sent = 0;
  #meter: BodyMeter | undefined;
  #received = 0;
  /** The product's Content-Length; -1: none. */
  #length = -1;
  /** The first body chunk when it is the whole body, until the end comes. */
  #held: Buffer | undefined;
  #wrote = false;
  #responseTimer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(req: NodeRequest, res: NodeResponse, options: ExchangeOptions) {
    this.#req = req;
    this.#res = res;
    this.#options = options;
  }

  /** Sends the request: `body` when keepd has read it already (a login), else the client's stream. */
  start(headers: string[], body: Buffer | undefined): void {
    const req = this.#req;
    const { settings, pool } = this.#options.upstream;
    const streamed = body === undefined && hasBody(req);
    let requestBody: Buffer | Transform | null = body ?? null;
    if (body !== undefined) this.#sent = body.length;
    if (streamed) {
      // Counted only where no Content-Length vouches for the size (node's parser enforces that one).
      const limit = req.headers['content-length'] === undefined ? settings.bodyLimit : undefined;
      const meter = new BodyMeter(limit, settings.idleTimeoutMs, (productBehind) =>
        this.#abortWith(productBehind ? codedError('KEEPD_UPSTREAM_NOT_READING', 'the product stopped reading') : codedError('KEEPD_UPLOAD_STALLED', 'upload stalled')),
      );
      this.#meter = meter;
      // The response wait starts once the body is sent, not while a large upload is under way.
      meter.once('end', () => {
        if (this.#status === 0 && !this.#done) this.#responseTimer = setTimeout(() => this.#abortWith(codedError('KEEPD_RESPONSE_TIMEOUT', 'no answer')), settings.responseTimeoutMs);
      });
      pipeline(req, meter, (error) => {
        if (error) this.#abortWith(error);
      });
      requestBody = meter;
    }
    // A body keepd has read already (a login) had its 100 Continue then.
    if (body === undefined && expectsContinue(req)) this.#res.writeContinue();
    this.#res.once('close', () => {
      // Not writableFinished: an HTTP/2 response whose stream was reset counts as finished.
      if (!this.#res.writableEnded) this.#abortWith(codedError('KEEPD_CLIENT_GONE', 'client gone'));
    });
    this.#dispatched = performance.now();
    pool.dispatch(
      {
        path: req.url ?? '/',
        method: req.method ?? 'GET',
        headers,
        body: requestBody,
        // Streamed bodies: keepd's own timer above, which starts when the upload ends.
        ...(streamed ? { headersTimeout: 0 } : {}),
      },
      this,
    );
  }

  #abortWith(error: Error): void {
    if (this.#done) return;
    if (this.#abort) this.#abort(error);
    else this.#fail(error);
  }

  /** keepd's own answer instead of the product's (a request it will not forward). */
  refuse(statusCode: 400, message: string): void {
    this.#respond(statusCode, message);
    this.#finish('refused');
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort;
    this.#reached = true;
    if (responseGone(this.#res)) abort(codedError('KEEPD_CLIENT_GONE', 'client gone'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 100 Continue, 103 Early Hints: the product's business
    clearTimeout(this.#responseTimer);
    this.#answered = statusCode;
    this.#resume = resume;
    this.#options.metrics.answered((performance.now() - this.#dispatched) / 1000);
    this.#options.answered?.(statusCode);
    try {
      // The product's reason phrase when node can send it as it is (HTTP/1.1: HTTP/2 has none).
      const info = { contentLength: -1 };
      writeHead(this.#res, statusCode, responseHeaders(rawHeaders, this.#options.hsts, info), REASON.test(statusText) ? statusText : (STATUS_CODES[statusCode] ?? ''));
      this.#status = statusCode;
      this.#length = info.contentLength;
      // A body of unknown length is a stream (events, exports): its headers go now, not with its first chunk.
      if (info.contentLength < 0 && this.#req.method !== 'HEAD' && !NO_BODY.has(statusCode)) flushHeaders(this.#res);
    } catch {
      // A header node refuses to send (invalid characters): the answer cannot be passed on.
      this.#abortWith(codedError('KEEPD_BAD_RESPONSE_HEADER', 'invalid response header'));
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#received += chunk.length;
    // A first chunk that is the whole body waits for the end, which follows at once: a small
    // answer then goes out with its headers in one write (one TLS record, one syscall), not two.
    const held = this.#held;
    if (held === undefined && !this.#wrote && chunk.length === this.#length) {
      this.#held = chunk;
      return true;
    }
    this.#held = undefined;
    this.#wrote = true;
    if (held !== undefined) writeChunk(this.#res, held);
    if (writeChunk(this.#res, chunk)) return true;
    const resume = this.#resume;
    if (resume) this.#res.once('drain', resume);
    return false;
  }

  onComplete(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held === undefined) this.#res.end();
    else this.#res.end(held);
    this.#finish(statusClass(this.#status));
  }

  onError(error: Error): void {
    this.#fail(error);
  }

  #fail(error: Error): void {
    if (this.#done) return;
    clearTimeout(this.#responseTimer);
    this.#meter?.destroy();
    const res = this.#res;
    if ((error as { code?: unknown }).code === 'KEEPD_CLIENT_GONE' || responseGone(res)) {
      this.#finish('aborted');
      return;
    }
    if (res.headersSent && NO_BODY.has(this.#status) && (error as { code?: unknown }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
      // A 304 or 204 may carry the Content-Length of the body it has not (RFC 9110 8.6); undici objects.
      res.end();
      this.#finish(statusClass(this.#status));
      return;
    }
    const { settings } = this.#options.upstream;
    const failure = classifyFailure(error, settings, { connectMs: settings.connectTimeoutMs, responseMs: settings.responseTimeoutMs, idleMs: settings.idleTimeoutMs });
    if (res.headersSent) {
      // Mid-body: the status is out; cutting the connection is the only way to say it failed.
      res.destroy();
      this.#finish(failure.outcome, { ...failure, down: false });
      return;
    }
    this.#respond(failure.statusCode, failure.message);
    this.#finish(failure.outcome, failure);
  }

  /** keepd's JSON answer; the connection closes after it (a body the client still sends cannot be read to its end). */
  #respond(statusCode: number, message: string): void {
    const res = this.#res;
    const json = failureBody({ statusCode, message });
    try {
      closeAfterAnswer(res);
      writeHead(
        res,
        statusCode,
        {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(json),
          'cache-control': 'no-store',
          ...(this.#options.hsts === undefined ? {} : { 'strict-transport-security': this.#options.hsts }),
        },
        STATUS_CODES[statusCode] ?? '',
      );
      res.end(json);
      this.#status = statusCode;
    } catch {
      res.destroy();
    }
  }

  #finish(outcome: UpstreamOutcome, failure?: UpstreamFailure): void {
    if (this.#done) return;
    this.#done = true;
    // Nothing was sent of a request keepd refused before dispatching it.
    const sent = this.#meter ? this.#meter.bytes : outcome === 'refused' && !this.#reached ? 0 : this.#sent || Number(this.#req.headers['content-length'] ?? 0);
    this.#options.metrics.count(outcome);
    this.#options.metrics.bytes(sent, this.#received);
    const status = outcome === 'aborted' && !this.#res.headersSent ? 0 : this.#status;
    const end: ExchangeEnd = { status, answered: this.#answered, reached: this.#reached, outcome, seconds: (performance.now() - this.#options.started) / 1000, sent, received: this.#received, method: this.#req.method ?? '', url: this.#req.url ?? '', client: this.#options.client };
    if (failure) end.failure = failure;
    this.#options.ended(end);
  }
}
