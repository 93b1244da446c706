import path from 'node:path';
import { isRealmListener, perListener, LISTENERS, type ListenerName, type Realm } from './listener-table.js';
import type { KeepConfig } from './schema.js';

/** Where a listener's certificate and key come from (paths already absolute). */
export interface TlsSource {
  type: 'pfx' | 'jks' | 'pem';
  file: string;
  password: string | undefined;
  pemCert: string | undefined;
}

/** One more certificate of a listener (`certificates`), for the names clients ask for by SNI. */
export interface SniSource extends TlsSource {
  /** As configured; undefined: the certificate's own DNS names (its SAN). */
  hostnames: string[] | undefined;
}

/** One listener as the configuration asks for it. */
export interface ListenerSettings {
  name: ListenerName;
  enabled: boolean;
  port: number;
  /** Address to bind as configured; undefined means all interfaces. */
  host: string | undefined;
  /** undefined for the front listener: each of its routes has the realm of the listener it names. */
  realm: Realm | undefined;
  /** TLS only: offer HTTP/2 next to HTTP/1.1 by ALPN (`http2`, the block's over the top level). */
  http2: boolean;
  /** Files the certificate comes from; absent: plain http, or ACME (`acme`). */
  tls: TlsSource | undefined;
  /** TLS with certificates from the ACME CA (`acme`, docs/acme.md), not from files. */
  acme: boolean;
  /** Where the TLS keys came from: `listeners.<name>` or the top level. */
  tlsKeysAt: string[];
  /** `certificates` from the same place as the TLS keys; empty without TLS. */
  sni: SniSource[];
  /** Top-level `limits`, with the block's `limits` over them. */
  limits: ListenerLimits;
}

type TlsKeys = Pick<KeepConfig, 'TLSFile' | 'TLSPassword' | 'TLSType' | 'PEMCert' | 'certificates'>;

function sniSources(keys: TlsKeys, configDir: string): SniSource[] {
  return (keys.certificates ?? []).flatMap((entry) => {
    const source = tlsSource(entry, configDir);
    return source ? [{ ...source, hostnames: entry.hostnames?.map((name) => name.toLowerCase()) }] : [];
  });
}

function tlsSource(keys: Omit<TlsKeys, 'certificates'>, configDir: string): TlsSource | undefined {
  if (keys.TLSType === undefined || keys.TLSFile === undefined) return undefined;
  return {
    type: keys.TLSType,
    file: path.resolve(configDir, keys.TLSFile),
    password: keys.TLSPassword,
    pemCert: keys.PEMCert === undefined ? undefined : path.resolve(configDir, keys.PEMCert),
  };
}

export interface ListenerLimits {
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  /** 0: off (the data listener in front of an upstream). */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  maxBodyBytes: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
  /** HTTP/2: streams (requests) at once on one connection. */
  maxStreamsPerConnection: number;
}

type LimitOverrides = { [K in keyof ListenerLimits]?: number | undefined };

function mergeLimits(base: ListenerLimits, over: LimitOverrides | undefined): ListenerLimits {
  return {
    handshakeTimeoutMs: over?.handshakeTimeoutMs ?? base.handshakeTimeoutMs,
    headersTimeoutMs: over?.headersTimeoutMs ?? base.headersTimeoutMs,
    requestTimeoutMs: over?.requestTimeoutMs ?? base.requestTimeoutMs,
    keepAliveTimeoutMs: over?.keepAliveTimeoutMs ?? base.keepAliveTimeoutMs,
    maxHeaderBytes: over?.maxHeaderBytes ?? base.maxHeaderBytes,
    maxBodyBytes: over?.maxBodyBytes ?? base.maxBodyBytes,
    maxConnections: over?.maxConnections ?? base.maxConnections,
    maxConnectionsPerClient: over?.maxConnectionsPerClient ?? base.maxConnectionsPerClient,
    maxStreamsPerConnection: over?.maxStreamsPerConnection ?? base.maxStreamsPerConnection,
  };
}

/**
 * A gateway carries uploads of any length: Node's whole-request deadline (requestTimeoutMs, 0 =
 * off) does not apply to the data listener in front of an upstream unless its own block sets it;
 * a stalled upload is cut by httpIdleTimeout instead (gateway/proxy.ts).
 */
function gatewayLimits(name: ListenerName, config: KeepConfig, limits: ListenerLimits): ListenerLimits {
  // The front listener carries the gateway's uploads and its URL routes' (a request there has the
  // target's limits, but the front's connection): the same rule.
  const carries = name === 'front' || (name === 'data' && config.listeners.data.upstream.url !== undefined);
  if (!carries || config.listeners[name].limits?.requestTimeoutMs !== undefined) return limits;
  return { ...limits, requestTimeoutMs: 0 };
}

function hasTlsKeys(block: TlsKeys): boolean {
  return block.TLSFile !== undefined || block.TLSType !== undefined;
}

/**
 * Whether a listener takes its certificate from ACME: named in `acme.listeners`, or, without
 * that list, every listener with no TLS keys (its own or the top level's). Off while
 * `acme.domains` is empty.
 */
export function usesAcme(name: ListenerName, config: KeepConfig): boolean {
  const { acme } = config;
  if (acme.domains.length === 0) return false;
  if (acme.listeners) return acme.listeners.includes(name);
  const block = config.listeners[name];
  return !(block !== undefined && hasTlsKeys(block)) && !hasTlsKeys(config);
}

/**
 * Each listener's port, address, realm and TLS. The product's top-level keys apply to all four;
 * a `listeners.<name>` block overrides HOST, and its TLS keys (when it has any) replace the
 * top-level ones entirely, so that passwords of one keystore never meet another's file.
 * Relative TLS paths are resolved against the configuration directory.
 */
export function resolveListenerSettings(config: KeepConfig, configDir: string): Record<ListenerName, ListenerSettings> {
  return perListener((name): ListenerSettings => {
    const block = config.listeners[name];
    const ownTls = block !== undefined && hasTlsKeys(block);
    // Named in acme.listeners, a listener leaves the top-level keys for ACME (its own keys are a problem: acme-settings.ts).
    const acme = usesAcme(name, config);
    const files = acme ? undefined : tlsSource(ownTls ? block : config, configDir);
    const metricsOff = name === 'metrics' && !config.metrics.enabled;
    return {
      name,
      enabled: block?.enabled !== false && !metricsOff,
      port: isRealmListener(name) ? config[LISTENERS[name].portKey] : config.listeners.front.port,
      host: block?.HOST ?? config.HOST,
      realm: isRealmListener(name) ? LISTENERS[name].realm : undefined,
      http2: block?.http2 ?? config.http2,
      tls: files,
      acme,
      tlsKeysAt: acme ? ['acme'] : ownTls ? ['listeners', name] : [],
      sni: files ? sniSources(ownTls ? block : config, configDir) : [],
      limits: gatewayLimits(name, config, mergeLimits(config.limits, block?.limits)),
    };
  });
}
