import { createServer } from 'node:net';
import { isRealmListener, LISTENERS } from '../config/listener-table.js';
import type { ListenerSettings } from '../config/listener-settings.js';
import { errorCode } from '../support/errors.js';

/** An expected startup failure (port in use, bad address): one clear sentence, no stack trace. */
export class ListenError extends Error {}

/**
 * Explicit addresses only: Fastify's `localhost` starts hidden extra servers that a later
 * setSecureContext would not reach. No HOST means all interfaces ("::" also takes IPv4 on a
 * dual-stack host; "0.0.0.0" where IPv6 is off).
 */
export function bindAddresses(host: string | undefined): string[] {
  if (host === undefined) return ['::', '0.0.0.0'];
  if (host === 'localhost') return ['127.0.0.1'];
  return [host];
}

export function explainListenError(error: unknown, settings: ListenerSettings, address: string): string {
  const where = `the ${settings.name} listener cannot listen on ${address.includes(':') ? `[${address}]` : address}:${settings.port}`;
  const portKey = isRealmListener(settings.name) ? LISTENERS[settings.name].portKey : `listeners.${settings.name}.port`;
  switch (errorCode(error)) {
    case 'EADDRINUSE':
      return `${where}: the port is already in use (another keepd or Domino REST API?). Stop that process or set ${portKey} to a free port`;
    case 'EACCES':
      return settings.port < 1024
        ? `${where}: permission denied; ports below 1024 need root or the capability CAP_NET_BIND_SERVICE (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE in keepd's unit), or choose a port above 1023 with ${portKey}`
        : `${where}: permission denied (${error instanceof Error ? error.message : String(error)})`;
    case 'EADDRNOTAVAIL':
      return `${where}: this machine has no such address; fix HOST`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${where}: cannot resolve the host name; set HOST to an IP address`;
    default:
      return `${where}: ${error instanceof Error ? error.message : String(error)}`;
  }
}


/**
 * Can this machine bind `settings.host` at all? Binds each candidate address on a free port and
 * lets go at once: a typo in HOST is found before a running listener gives up its socket.
 */
export async function probeAddress(settings: ListenerSettings): Promise<void> {
  const candidates = bindAddresses(settings.host);
  let last: unknown;
  for (const address of candidates) {
    try {
      await new Promise<void>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen({ port: 0, host: address }, () => server.close(() => resolve()));
      });
      return;
    } catch (error) {
      last = error;
    }
  }
  throw new ListenError(explainListenError(last, settings, candidates[candidates.length - 1] ?? ''));
}
