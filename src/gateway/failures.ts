import { errorBody } from '../support/http-answers.js';
import { errorCode } from '../support/errors.js';
import type { UpstreamOutcome } from '../metrics/upstream-metrics.js';

/** Why a proxied request got no answer from the product, as the client and the log see it. */
export interface UpstreamFailure {
  statusCode: number;
  outcome: UpstreamOutcome;
  /** One sentence naming the upstream and what to check; never a stack. */
  message: string;
  /** The product could not be reached at all (its health turns to unreachable). */
  down: boolean;
}

/** An error with a code of keepd's own, for the timers undici does not have. */
export function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** keepd's own refusal of an oversized body (bodyHandler.bodyLimit). */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the request body is over bodyHandler.bodyLimit (${limit} bytes)`);
  }
}

const TLS_CODES = /^(?:CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_)/;

/** Failures that say the product's data port cannot be reached at all: only these change its health. */
const DOWN_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

interface Timeouts {
  connectMs: number;
  responseMs: number;
  idleMs: number;
}

/** What the client is told, by error code; `down` is added by classifyFailure. */
/** Which upstream failed, as messages name it. */
export interface FailedUpstream {
  origin: string;
  /** `the product`, or `the upstream` of a front listener route. */
  name: string;
  /** The key that gives it a CA bundle; undefined: the system's CAs. */
  caKey: string | undefined;
}

function describe(code: string, upstream: FailedUpstream, timeouts: Timeouts): Omit<UpstreamFailure, 'down'> {
  const who = `${upstream.name} at ${upstream.origin}`;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { statusCode: 504, outcome: 'timeout', message: `${who} did not accept a connection within ${timeouts.connectMs} ms (listeners.data.upstream.connectTimeoutMs)` };
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'KEEPD_RESPONSE_TIMEOUT':
      return { statusCode: 504, outcome: 'timeout', message: `${who} did not answer within ${timeouts.responseMs} ms (listeners.data.upstream.responseTimeoutMs, or httpIdleTimeout)` };
    case 'UND_ERR_BODY_TIMEOUT':
      return { statusCode: 504, outcome: 'timeout', message: `${who} sent nothing for ${timeouts.idleMs} ms (httpIdleTimeout)` };
    case 'KEEPD_UPSTREAM_NOT_READING':
      return { statusCode: 504, outcome: 'timeout', message: `${who} stopped reading the request body for ${timeouts.idleMs} ms (httpIdleTimeout)` };
    case 'KEEPD_UPLOAD_STALLED':
      return { statusCode: 408, outcome: 'aborted', message: `the request body stalled for ${timeouts.idleMs} ms (httpIdleTimeout)` };
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return { statusCode: 400, outcome: 'aborted', message: 'the request body did not match its Content-Length' };
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
      return { statusCode: 400, outcome: 'refused', message: 'the request cannot be forwarded as it is (a header the upstream must not get twice, or a malformed one)' };
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
      return { statusCode: 502, outcome: 'unreachable', message: `${who} closed the connection before it answered` };
    case 'ETIMEDOUT':
      return { statusCode: 504, outcome: 'timeout', message: `${who} did not accept a connection (the network gave up waiting)` };
    case 'ECONNREFUSED':
      return { statusCode: 502, outcome: 'unreachable', message: `${who} refused the connection: is it running?` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { statusCode: 502, outcome: 'unreachable', message: `the host of ${who} cannot be resolved` };
    case 'KEEPD_BAD_RESPONSE_HEADER':
    case '':
      return { statusCode: 502, outcome: 'unreachable', message: `${who} sent an answer keepd cannot pass on (malformed status line or headers)` };
    default:
      if (TLS_CODES.test(code)) {
        return { statusCode: 502, outcome: 'unreachable', message: `${who} presented a certificate keepd does not trust (${code}): ${upstream.caKey === undefined ? "keepd checks it against the system's CAs" : `set ${upstream.caKey} to its CA`}` };
      }
      if (code.startsWith('HPE_')) return { statusCode: 502, outcome: 'unreachable', message: `${who} sent a malformed answer (${code})` };
      return { statusCode: 502, outcome: 'unreachable', message: `${who} failed to answer (${code})` };
  }
}

/**
 * The undici (or socket) error of a proxied request, sorted: upstream too slow (504), upstream
 * unreachable or broken (502), or the client's own fault (400/408/413). `down` only for failures
 * to connect at all: one slow or malformed exchange says nothing about the product as a whole.
 */
export function classifyFailure(error: unknown, upstream: FailedUpstream, timeouts: Timeouts): UpstreamFailure {
  if (error instanceof BodyTooLarge) return { statusCode: 413, outcome: 'refused', message: error.message, down: false };
  const code = errorCode(error);
  return { ...describe(code, upstream, timeouts), down: DOWN_CODES.has(code) || TLS_CODES.test(code) };
}

export function failureBody(failure: Pick<UpstreamFailure, 'statusCode' | 'message'>): string {
  return JSON.stringify(errorBody(failure.statusCode, failure.message));
}
