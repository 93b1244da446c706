import { certificateValidity, describeCertificate } from './certificate-validity.js';
import type { TlsMaterial } from './load-tls-material.js';

/** What these checks read of a listener: its validated material, if it serves TLS. */
interface WithTls {
  tls: TlsMaterial | undefined;
}

/** "the health listener", "the data, health and metrics listeners" (as in problems). */
function listenerNames(names: readonly string[]): string {
  const last = names[names.length - 1] ?? '';
  return names.length === 1 ? `the ${last} listener` : `the ${names.slice(0, -1).join(', ')} and ${last} listeners`;
}

/** `text` once per distinct message, prefixed with every listener it concerns. */
function perMessage(entries: readonly (readonly [listener: string, text: string])[]): string[] {
  const byText = new Map<string, string[]>();
  for (const [listener, text] of entries) byText.set(text, [...(byText.get(text) ?? []), listener]);
  return [...byText].map(([text, listeners]) => `TLS of ${listenerNames(listeners)}: ${text}`);
}

/**
 * The warnings of the listeners' TLS material (material.warnings, made when it was loaded: an
 * expired or not yet valid certificate), each once, naming the listeners that present it.
 * For PreparedConfig.warnings: `keepd check` prints them, start and reload log them.
 */
export function tlsWarnings(listeners: Readonly<Record<string, WithTls>>): string[] {
  return perMessage(Object.entries(listeners).flatMap(([name, listener]) => (listener.tls?.warnings ?? []).map((text) => [name, text] as const)));
}

/**
 * Problems that refuse a reload: a listener serving TLS would swap its certificate for an expired
 * one (a rebind counts too: the same clients would get it). Empty when nothing is refused. A
 * listener that was not serving TLS before gets only the warning, as at start.
 */
export function expiredSwaps(
  running: Readonly<Partial<Record<string, WithTls>>>,
  next: Readonly<Record<string, WithTls>>,
  now: number = Date.now(),
): string[] {
  const refused: (readonly [string, string])[] = [];
  for (const [name, listener] of Object.entries(next)) {
    const was = running[name]?.tls;
    const becomes = listener.tls;
    if (!was || !becomes || was.digest === becomes.digest) continue;
    const validity = certificateValidity(becomes.certificate, now);
    if (validity.state !== 'expired') continue;
    const ago = validity.daysAgo === 0 ? 'less than a day' : validity.daysAgo === 1 ? '1 day' : `${validity.daysAgo} days`;
    refused.push([
      name,
      `${describeCertificate(becomes.certificate, becomes.certificateFile ?? 'the new TLS material')} expired on ${becomes.certificate.validTo} (${ago} ago); ` +
        'keepd does not swap to an expired certificate and keeps serving the running one ' +
        `(serial ${was.certificate.serialNumber}, valid until ${was.certificate.validTo}). Install a renewed certificate with its key, then reload`,
    ]);
  }
  return perMessage(refused);
}

/** What expiredSniSwaps reads of a listener: its SNI certificates. */
interface WithSni {
  sni: readonly { material: TlsMaterial; hostnames: readonly string[] }[];
}

/**
 * The same rule for SNI certificates (`certificates`): a reload never hands a host name that a
 * valid certificate serves now to an expired one (a failed renewal of one host must not break
 * it). A new entry, or names nothing served yet, get the load's warning only.
 */
export function expiredSniSwaps(running: Readonly<Partial<Record<string, WithSni>>>, next: Readonly<Record<string, WithSni>>, now: number = Date.now()): string[] {
  const refused: (readonly [string, string])[] = [];
  for (const [name, listener] of Object.entries(next)) {
    const was = running[name]?.sni ?? [];
    for (const entry of listener.sni) {
      if (was.some((old) => old.material.digest === entry.material.digest)) continue;
      if (certificateValidity(entry.material.certificate, now).state !== 'expired') continue;
      const served = entry.hostnames.filter((host) => was.some((old) => old.hostnames.includes(host) && certificateValidity(old.material.certificate, now).state !== 'expired'));
      if (served.length === 0) continue;
      refused.push([
        name,
        `${describeCertificate(entry.material.certificate, entry.material.certificateFile ?? 'the new TLS material')} for ${served.join(', ')} expired on ${entry.material.certificate.validTo}; ` +
          'keepd does not swap to an expired certificate and keeps serving the running one. Install a renewed certificate with its key, then reload',
      ]);
    }
  }
  return perMessage(refused);
}

const KEY_NAMES: Readonly<Record<string, string>> = { ec: 'ECDSA', rsa: 'RSA', 'rsa-pss': 'RSA-PSS', ed25519: 'Ed25519', ed448: 'Ed448' };
const keyName = (type: string): string => KEY_NAMES[type] ?? type;

/**
 * An SNI certificate whose key type differs from the main one's is not served reliably: Node
 * adds a name's certificate beside the main one (one per key type) rather than replacing it, and
 * the client's signature preferences pick (most TLS 1.3 clients take ECDSA first).
 */
export function sniKeyTypeWarnings(listeners: Readonly<Record<string, WithTls & WithSni>>): string[] {
  const entries: (readonly [string, string])[] = [];
  for (const [name, listener] of Object.entries(listeners)) {
    const main = listener.tls?.certificate.keyType;
    for (const entry of listener.sni) {
      const own = entry.material.certificate.keyType;
      if (main === undefined || own === undefined || own === main) continue;
      entries.push([
        name,
        `the certificate for ${entry.hostnames.join(', ')} has an ${keyName(own)} key and the main certificate an ${keyName(main)} key: for those names Node offers both, ` +
          `and clients get whichever their signature preferences favour (most TLS 1.3 clients: ECDSA). Give them keys of the same type`,
      ]);
    }
  }
  return perMessage(entries);
}
