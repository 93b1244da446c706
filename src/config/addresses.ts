/** Loopback: 127.0.0.0/8 (also IPv4-mapped, dotted or as a URL writes it: ::ffff:7f00:1), ::1, and the name localhost. */
export function isLoopbackAddress(host: string): boolean {
  return /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(host) || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/i.test(host) || host === '::1' || host === 'localhost';
}

/** All interfaces: no HOST at all, `::` or `0.0.0.0`. */
export function isWildcardAddress(host: string | undefined): boolean {
  return host === undefined || host === '::' || host === '0.0.0.0';
}

/**
 * Would a request to `url` reach a listener bound to `bound` (undefined: all interfaces) on
 * `port`? Loopback reaches a loopback or wildcard listener; `localAddresses` (this machine's
 * interface addresses) reach a wildcard one. Host names other than localhost are not resolved.
 */
export function reachesListener(url: URL, port: number, bound: string | undefined, localAddresses: readonly string[] = []): boolean {
  const targetPort = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (targetPort !== port) return false;
  if (isWildcardAddress(bound)) return isLoopbackAddress(host) || isWildcardAddress(host) || localAddresses.includes(host);
  return host === bound || (isLoopbackAddress(host) && bound !== undefined && isLoopbackAddress(bound));
}
