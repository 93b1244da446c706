import type { ServerOptions as HttpsOptions } from 'node:https';
import type { ListenerLimits } from '../config/listener-settings.js';
import type { ListenerName } from '../config/listener-table.js';
import { HSTS } from '../support/http-answers.js';
import type { TlsMaterial } from '../tls/load-tls-material.js';
import type { TlsPolicy } from '../tls/tls-policy.js';

/* What a listener's node server is built with: TLS options, timeouts, and the headers of every answer. */

/** Listeners whose answers must never sit in a cache (and every 401, anywhere). */
const NO_STORE_LISTENERS: ReadonlySet<ListenerName> = new Set(['management', 'health']);

export function securityHeaders(listener: ListenerName, tls: boolean): Record<string, string> {
  const headers: Record<string, string> = { 'x-content-type-options': 'nosniff' };
  if (tls) headers['strict-transport-security'] = HSTS;
  if (NO_STORE_LISTENERS.has(listener)) headers['cache-control'] = 'no-store';
  return headers;
}

/** undefined material: an ACME listener waiting for its certificate (its handshakes fail until it arrives). */
export function secureServerOptions(material: TlsMaterial | undefined, policy: TlsPolicy): HttpsOptions {
  return { ...material?.options, minVersion: policy.minVersion, maxVersion: policy.maxVersion, ciphers: policy.ciphers, honorCipherOrder: true };
}

export function serverTimeouts(limits: ListenerLimits) {
  // Node refuses headersTimeout > requestTimeout; and it checks both only every
  // connectionsCheckingInterval, so that must be well below them for the limits to bite.
  const headersTimeout = limits.requestTimeoutMs === 0 ? limits.headersTimeoutMs : Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    headersTimeout,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))),
  };
}

