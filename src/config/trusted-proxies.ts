import { BlockList, isIP } from 'node:net';

/**
 * `trustedProxies`: the peers whose X-Forwarded-For keepd believes. Anyone can send that header;
 * only a proxy keepd was told to trust may say who its client is.
 */

/** An address or CIDR in the list, or why it is not one. */
export function parseTrustedProxy(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | string {
  const [address = '', prefixText, extra] = text.trim().split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return 'an IP address or CIDR such as "10.0.0.0/8", "192.0.2.7" or "fd00::/8"';
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family };
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return `a prefix length from 0 to ${max} after the "/"`;
  return { address, prefix, family };
}

export type TrustTest = (address: string) => boolean;

const trustsNobody: TrustTest = () => false;

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`, how a dual-stack socket shows IPv4 peers) is checked as IPv4. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** A test for the validated list (the schema has refused anything parseTrustedProxy refuses). */
export function trustTest(list: readonly string[]): TrustTest {
  if (list.length === 0) return trustsNobody;
  const blocks = new BlockList();
  for (const entry of list) {
    const parsed = parseTrustedProxy(entry);
    if (typeof parsed !== 'string') blocks.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return (address) => {
    const plain = unmapped(address);
    const version = isIP(plain);
    return version !== 0 && blocks.check(plain, version === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * The client's address: the peer itself, unless the peer is trusted; then X-Forwarded-For is read
 * from the right (each proxy appends), skipping trusted hops, and the first address not trusted is
 * the client. A malformed entry stops the walk at the last trusted hop, which is then the client:
 * garbage never becomes an address that the throttle or the logs believe.
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, trusted: TrustTest): string {
  if (forwardedFor === undefined || trusted === trustsNobody || !trusted(peer)) return peer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  let client = peer;
  for (let index = hops.length - 1; index >= 0; index--) {
    const hop = stripPort((hops[index] ?? '').trim());
    if (isIP(hop) === 0) return client;
    client = hop;
    if (!trusted(hop)) return hop;
  }
  return client;
}

/** `192.0.2.1:1234` and `[2001:db8::1]:1234` (some proxies add the port) to the bare address. */
function stripPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  const v4 = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(hop);
  return v4?.[1] ?? hop;
}
