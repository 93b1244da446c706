/** Loopback: 127.0.0.0/8 (also IPv4-mapped, dotted or as a URL writes it: ::ffff:7f00:1), ::1, and the name localhost. */
export function isLoopbackAddress(host: string): boolean {
  return /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(host) || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/i.test(host) || host === '::1' || host === 'localhost';
}

/** All interfaces: no HOST at all, `::` or `0.0.0.0`. */
export function isWildcardAddress(host: string | undefined): boolean {
  return host === undefined || host === '::' || host === '0.0.0.0';
}
