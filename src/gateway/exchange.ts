import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import { statusClass, type UpstreamMetrics, type UpstreamOutcome } from '../metrics/upstream-metrics.js';
import { BodyTooLarge, classifyFailure, codedError, failureBody, type UpstreamFailure } from './failures.js';
import { responseHeaders } from './forward-headers.js';
import type { Upstream } from './upstream.js';

/** The client waits for `100 Continue` before it sends its body. */
export function expectsContinue(req: IncomingMessage): boolean {
  return /100-continue/i.test(req.headers.expect ?? '');
}

/** How one exchange ended, for metrics, the throttle, health and the log. */
export interface ExchangeEnd {
  /** What the client got (the product's status, or keepd's 4xx/502/504; 0 when the client left first). */
  status: number;
  outcome: UpstreamOutcome;
  seconds: number;
  sent: number;
  received: number;
  failure?: UpstreamFailure;
}

export interface ExchangeOptions {
  upstream: Upstream;
  metrics: UpstreamMetrics;
  hsts: string | undefined;
  /** When the request arrived (performance.now()). */
  started: number;
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

  constructor(limit: number | undefined, idleMs: number, onStall: () => void) {
    super();
    this.#limit = limit;
    this.#stall = setTimeout(onStall, idleMs);
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
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #options: ExchangeOptions;
  #abort: ((error?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #dispatched = 0;
  #status = 0;
  #sent = 0;
  #meter: BodyMeter | undefined;
  #received = 0;
  #responseTimer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(req: IncomingMessage, res: ServerResponse, options: ExchangeOptions) {
    this.#req = req;
    this.#res = res;
    this.#options = options;
  }

  /** Sends the request: `body` when keepd has read it already (a login), else the client's stream. */
  start(headers: string[], body: Buffer | undefined): void {
    const req = this.#req;
    const { settings, pool } = this.#options.upstream;
    const streamed = body === undefined && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
    let requestBody: Buffer | Transform | null = body ?? null;
    if (body !== undefined) this.#sent = body.length;
    if (streamed) {
      // Counted only where no Content-Length vouches for the size (node's parser enforces that one).
      const limit = req.headers['content-length'] === undefined ? settings.bodyLimit : undefined;
      const meter = new BodyMeter(limit, settings.idleTimeoutMs, () => this.#abortWith(codedError('KEEPD_UPLOAD_STALLED', 'upload stalled')));
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
      if (!this.#res.writableFinished) this.#abortWith(codedError('KEEPD_CLIENT_GONE', 'client gone'));
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

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort;
    if (this.#res.destroyed) abort(codedError('KEEPD_CLIENT_GONE', 'client gone'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 100 Continue, 103 Early Hints: the product's business
    clearTimeout(this.#responseTimer);
    this.#status = statusCode;
    this.#resume = resume;
    this.#options.metrics.answered((performance.now() - this.#dispatched) / 1000);
    try {
      this.#res.writeHead(statusCode, statusText, responseHeaders(rawHeaders, this.#options.hsts));
    } catch {
      // A header node refuses to send (invalid characters): the answer cannot be passed on.
      this.#status = 0;
      this.#abortWith(codedError('KEEPD_BAD_RESPONSE_HEADER', 'invalid response header'));
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#received += chunk.length;
    if (this.#res.write(chunk)) return true;
    const resume = this.#resume;
    if (resume) this.#res.once('drain', resume);
    return false;
  }

  onComplete(): void {
    this.#res.end();
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
    const clientGone = (error as { code?: unknown }).code === 'KEEPD_CLIENT_GONE' || res.destroyed;
    const { settings } = this.#options.upstream;
    const failure = classifyFailure(error, settings.origin, { connectMs: settings.connectTimeoutMs, responseMs: settings.responseTimeoutMs, idleMs: settings.idleTimeoutMs });
    if (clientGone) {
      this.#finish('aborted');
      return;
    }
    if (res.headersSent) {
      // Mid-body: the status is out; cutting the connection is the only way to say it failed.
      res.destroy();
      this.#finish(failure.outcome, failure);
      return;
    }
    const json = failureBody(failure);
    // A body the client is still sending cannot be read to its end: close after the answer.
    res.shouldKeepAlive = false;
    res.writeHead(failure.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store' });
    res.end(json);
    this.#status = failure.statusCode;
    this.#finish(failure.outcome, failure);
  }

  #finish(outcome: UpstreamOutcome, failure?: UpstreamFailure): void {
    if (this.#done) return;
    this.#done = true;
    const sent = this.#meter ? this.#meter.bytes : this.#sent || Number(this.#req.headers['content-length'] ?? 0);
    this.#options.metrics.count(outcome);
    this.#options.metrics.bytes(sent, this.#received);
    const status = outcome === 'aborted' && !this.#res.headersSent ? 0 : this.#status;
    this.#options.ended({ status, outcome, seconds: (performance.now() - this.#options.started) / 1000, sent, received: this.#received, ...(failure ? { failure } : {}) });
  }
}
