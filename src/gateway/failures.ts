import { errorBody } from '../support/http-answers.js';
import { errorCode } from '../support/errors.js';
import type { UpstreamOutcome } from '../metrics/upstream-metrics.js';

/** Why a proxied request got no answer from the product, as the client and the log see it. */
export interface UpstreamFailure {
  statusCode: 400 | 408 | 413 | 502 | 504;
  outcome: UpstreamOutcome;
  /** One sentence naming the upstream and what to check; never a stack. */
  message: string;
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

/**
 * The undici (or socket) error of a proxied request, sorted: upstream too slow (504), upstream
 * unreachable or broken (502), or the client's own fault (its body: 400/413).
 */
export function classifyFailure(error: unknown, origin: string, timeouts: { connectMs: number; responseMs: number; idleMs: number }): UpstreamFailure {
  if (error instanceof BodyTooLarge) return { statusCode: 413, outcome: 'refused', message: error.message };
  const code = errorCode(error);
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { statusCode: 504, outcome: 'timeout', message: `the product at ${origin} did not accept a connection within ${timeouts.connectMs} ms (listeners.data.upstream.connectTimeoutMs)` };
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'KEEPD_RESPONSE_TIMEOUT':
      return { statusCode: 504, outcome: 'timeout', message: `the product at ${origin} did not answer within ${timeouts.responseMs} ms (listeners.data.upstream.responseTimeoutMs, or httpIdleTimeout)` };
    case 'UND_ERR_BODY_TIMEOUT':
      return { statusCode: 504, outcome: 'timeout', message: `the product at ${origin} sent nothing for ${timeouts.idleMs} ms (httpIdleTimeout)` };
    case 'KEEPD_UPLOAD_STALLED':
      return { statusCode: 408, outcome: 'aborted', message: `the request body stalled for ${timeouts.idleMs} ms (httpIdleTimeout)` };
    case 'UND_ERR_SOCKET':
      return { statusCode: 502, outcome: 'unreachable', message: `the product at ${origin} closed the connection before it answered` };
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return { statusCode: 400, outcome: 'aborted', message: 'the request body did not match its Content-Length' };
    case 'ECONNREFUSED':
      return { statusCode: 502, outcome: 'unreachable', message: `the product at ${origin} refused the connection: is it running?` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { statusCode: 502, outcome: 'unreachable', message: `the product's host in ${origin} cannot be resolved` };
    default:
      if (TLS_CODES.test(code)) {
        return { statusCode: 502, outcome: 'unreachable', message: `the product at ${origin} presented a certificate keepd does not trust (${code}): set listeners.data.upstream.caFile to its CA` };
      }
      return { statusCode: 502, outcome: 'unreachable', message: `the product at ${origin} failed to answer (${code === '' ? 'connection closed' : code})` };
  }
}

export function failureBody(failure: UpstreamFailure): string {
  return JSON.stringify(errorBody(failure.statusCode, failure.message));
}
