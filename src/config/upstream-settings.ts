import path from 'node:path';
import type { KeepConfig } from './schema.js';

/** The product behind the data listener, as the configuration asks for it (docs/gateway.md). */
export interface UpstreamSettings {
  /** `http://127.0.0.1:18880`: scheme, host and port only (the schema refuses paths). */
  origin: string;
  /** How messages name it: `the product`, or `the upstream` of a front listener route. */
  name: string;
  /** The key of its CA bundle, for messages; undefined: it has none (the system's CAs). */
  caKey: string | undefined;
  auth: 'passthrough' | 'functional';
  /** Absolute path of the CA bundle for an https upstream; undefined: the system's CAs. */
  caFile: string | undefined;
  connectTimeoutMs: number;
  /** Until the product's response headers arrive. */
  responseTimeoutMs: number;
  /** No byte either way for this long cuts a proxied exchange (the product's httpIdleTimeout). */
  idleTimeoutMs: number;
  /** Request body limit in bytes (bodyHandler.bodyLimit); undefined: none. */
  bodyLimit: number | undefined;
  probe: { path: string; intervalMs: number; timeoutMs: number };
}

/**
 * A front listener route's upstream (`"to": "http://127.0.0.1:81"`, Domino's own HTTP task): it
 * authenticates its own users, so keepd passes requests through, with the gateway's connect
 * timeout and the product's idle timeout; the system's CAs check an https one.
 */
export function frontUpstream(origin: string, config: KeepConfig): UpstreamSettings {
  const idleTimeoutMs = config.httpIdleTimeout * 1000;
  return {
    origin,
    name: 'the upstream',
    caKey: undefined,
    auth: 'passthrough',
    caFile: undefined,
    connectTimeoutMs: config.listeners.data.upstream.connectTimeoutMs,
    responseTimeoutMs: idleTimeoutMs,
    idleTimeoutMs,
    bodyLimit: undefined,
    probe: { path: '/', intervalMs: 0, timeoutMs: 0 },
  };
}

/** undefined when no `listeners.data.upstream.url` is set: the data listener answers itself, as before. */
export function resolveUpstream(config: KeepConfig, configDir: string): UpstreamSettings | undefined {
  const upstream = config.listeners.data.upstream;
  if (upstream.url === undefined) return undefined;
  const idleTimeoutMs = config.httpIdleTimeout * 1000;
  return {
    origin: new URL(upstream.url).origin,
    name: 'the product',
    caKey: 'listeners.data.upstream.caFile',
    auth: upstream.auth,
    caFile: upstream.caFile === undefined ? undefined : path.resolve(configDir, upstream.caFile),
    connectTimeoutMs: upstream.connectTimeoutMs,
    responseTimeoutMs: upstream.responseTimeoutMs ?? idleTimeoutMs,
    idleTimeoutMs,
    bodyLimit: config.bodyHandler.bodyLimit < 0 ? undefined : config.bodyHandler.bodyLimit,
    probe: { path: upstream.probe.path, intervalMs: upstream.probe.intervalSeconds * 1000, timeoutMs: upstream.probe.timeoutMs },
  };
}
