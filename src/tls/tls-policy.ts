import type { SecureVersion } from 'node:tls';
import type { KeepConfig } from '../config/schema.js';
import { formatPath, type ConfigProblem } from '../config/problems.js';
import { IANA_TO_OPENSSL } from './cipher-names.js';

/** Protocol range and cipher list shared by every TLS listener. */
export interface TlsPolicy {
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  ciphers: string;
  warnings: string[];
}

const PROTOCOLS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
/** Names the product (Java) knows but OpenSSL 3 cannot serve at all. */
const UNSERVABLE = new Set(['SSLv2Hello', 'SSLv3', 'SSLv2']);
const INSECURE: ReadonlySet<SecureVersion> = new Set<SecureVersion>(['TLSv1', 'TLSv1.1']);

/**
 * Modern defaults: TLS 1.3 suites, then ECDHE with AEAD ciphers only (no CBC, no RSA key
 * exchange, no DHE), in the order a server should prefer them.
 */
export const DEFAULT_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/**
 * Added after DEFAULT_CIPHERS only when an admin enables TLSv1 or TLSv1.1 explicitly: none of the
 * AEAD suites above exists before TLS 1.2, so without these such clients could not connect at all.
 * ECDHE key exchange with AES-CBC and HMAC-SHA1 (RFC 4492), the best that TLS 1.0/1.1 can do.
 */
export const LEGACY_CIPHERS = ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA'];

/**
 * Whether a suite (OpenSSL name) can be negotiated with TLS 1.0/1.1: the CBC suites with an
 * HMAC-SHA1 ("-SHA"). AEAD (GCM, CCM, ChaCha20), SHA-256/384 and TLS 1.3 suites need TLS 1.2+.
 */
export function usableBeforeTls12(opensslName: string): boolean {
  return opensslName.endsWith('-SHA');
}

const KNOWN_OPENSSL = new Set(Object.values(IANA_TO_OPENSSL));
const OPENSSL_TO_IANA = new Map(Object.entries(IANA_TO_OPENSSL).map(([iana, openssl]) => [openssl, iana]));

/** A suite's IANA (Java) name, as the product's `cipher` key writes it; the OpenSSL name if none. */
export function ianaCipherName(opensslName: string): string {
  return OPENSSL_TO_IANA.get(opensslName) ?? opensslName;
}

/** A suite named the IANA/Java way (as the product does) or the OpenSSL way, in OpenSSL's name. */
export function opensslCipherName(name: string): string | undefined {
  return IANA_TO_OPENSSL[name] ?? (KNOWN_OPENSSL.has(name) ? name : undefined);
}

/** What enabling TLSv1/TLSv1.1 does, exactly: served for real, or not at all for want of a suite. */
function insecureWarning(insecure: SecureVersion[], list: string[], explicitCiphers: boolean): string {
  const versions = insecure.join(' and ');
  const usable = list.filter(usableBeforeTls12);
  if (usable.length === 0) {
    return (
      `${versions} enabled by enabledProtocols, but no enabled cipher suite works before TLS 1.2 (only CBC suites with SHA-1 do, ` +
      `such as TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA): ${versions} clients cannot connect, and keepd does not lower OpenSSL's security level for them. ` +
      `Add such a suite to cipher${explicitCiphers ? '' : ' (or stop switching them off)'}, or remove ${versions}`
    );
  }
  return (
    `${versions} enabled by enabledProtocols: these versions are insecure; remove them unless an old client needs them. ` +
    `They are served with ${usable.map(ianaCipherName).join(', ')}${explicitCiphers ? '' : ' (added to the default suites for them)'}, ` +
    'at OpenSSL security level 0, which also admits weak keys and SHA-1 signatures on TLS 1.2 for every listener'
  );
}

function isSecureVersion(name: string): name is SecureVersion {
  return (PROTOCOLS as readonly string[]).includes(name);
}

/**
 * The product's `enabledProtocols`, `removeInsecureProtocols` and `cipher` keys, as a Node TLS
 * policy. Defaults (config/defaults.ts): TLS 1.2 and 1.3; an empty `cipher` means DEFAULT_CIPHERS. TLS 1.0/1.1 are served only when
 * enabled explicitly and not removed, with a warning: then for real (LEGACY_CIPHERS join the
 * defaults, at OpenSSL security level 0), or, when `cipher` leaves no suite they can use, a
 * warning saying that such clients cannot connect.
 */
export function resolveTlsPolicy(
  config: Pick<KeepConfig, 'enabledProtocols' | 'removeInsecureProtocols' | 'cipher'>,
  sourceOf: (path: string[]) => string,
): { policy?: TlsPolicy; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const problem = (path: string[], message: string): void => {
    problems.push({ source: sourceOf(path), path: formatPath(path), message });
  };
  const warnings: string[] = [];
  // Starts empty: the defaults layer enables TLS 1.2 and 1.3, and a file can switch either off.
  const enabled = new Set<SecureVersion>();

  for (const [name, on] of Object.entries(config.enabledProtocols)) {
    if (isSecureVersion(name)) {
      if (on) enabled.add(name);
      else enabled.delete(name);
    } else if (UNSERVABLE.has(name)) {
      if (on) warnings.push(`enabledProtocols.${name} is ignored: OpenSSL 3 cannot serve it`);
    } else {
      problem(['enabledProtocols', name], `unknown protocol; expected one of ${PROTOCOLS.join(', ')}`);
    }
  }
  for (const [name, remove] of Object.entries(config.removeInsecureProtocols)) {
    if (isSecureVersion(name)) {
      if (remove) enabled.delete(name);
    } else if (!UNSERVABLE.has(name)) {
      problem(['removeInsecureProtocols', name], `unknown protocol; expected one of ${PROTOCOLS.join(', ')}, SSLv3, SSLv2Hello`);
    }
  }

  const ordered = PROTOCOLS.filter((p) => enabled.has(p));
  const first = ordered[0];
  const last = ordered[ordered.length - 1];
  if (first === undefined || last === undefined) {
    problem(['enabledProtocols'], 'leaves no TLS protocol enabled; enable at least TLSv1.2 or TLSv1.3');
  } else if (PROTOCOLS.indexOf(last) - PROTOCOLS.indexOf(first) + 1 !== ordered.length) {
    problem(['enabledProtocols'], `must enable a contiguous range of versions; got ${ordered.join(', ')}`);
  }

  const chosen: string[] = [];
  const dropped = new Set<string>();
  for (const [name, on] of Object.entries(config.cipher)) {
    const openssl = opensslCipherName(name);
    if (openssl === undefined) {
      problem(['cipher', name], 'unknown cipher suite; use IANA names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (or OpenSSL names)');
    } else if (on) chosen.push(openssl);
    else dropped.add(openssl);
  }
  const insecure = ordered.filter((p) => INSECURE.has(p));
  const defaults = insecure.length > 0 ? [...DEFAULT_CIPHERS, ...LEGACY_CIPHERS] : DEFAULT_CIPHERS;
  const list = (chosen.length > 0 ? chosen : defaults).filter((c) => !dropped.has(c));
  if (list.length === 0) problem(['cipher'], 'leaves no cipher suite enabled');
  if (insecure.length > 0) warnings.push(insecureWarning(insecure, list, chosen.length > 0));
  if (problems.length > 0 || first === undefined || last === undefined) return { problems };
  // OpenSSL 3 refuses TLS 1.0/1.1 (their MD5+SHA-1 handshake signatures) at its default security
  // level 1; an explicit opt-in that can be served lowers it to 0.
  const servesLegacy = insecure.length > 0 && list.some(usableBeforeTls12);
  const ciphers = list.join(':') + (servesLegacy ? ':@SECLEVEL=0' : '');
  return { policy: { minVersion: first, maxVersion: last, ciphers, warnings }, problems };
}
