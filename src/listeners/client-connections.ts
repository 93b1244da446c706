import type { Socket } from 'node:net';
import { clientKey } from '../accounts/login-throttle.js';

/**
 * Open connections per client address (IPv6 by /64, as the login throttle counts), so that one
 * address cannot hold every connection slot of a listener (limits.maxConnections) with idle
 * sockets and lock everybody else out until the handshake timeout cuts them.
 */
export class ClientConnections {
  readonly #open = new Map<string, number>();
  readonly #limit: () => number;
  readonly #exempt: (address: string) => boolean;

  /** `exempt`: peers with no limit (trusted proxies: one address, many clients behind it). */
  constructor(limit: () => number, exempt: (address: string) => boolean = () => false) {
    this.#limit = limit;
    this.#exempt = exempt;
  }

  /** Counts a new connection, or says no (the caller closes it) when its client has the most it may. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    if (this.#exempt(address)) return true;
    const key = clientKey(address);
    const open = this.#open.get(key) ?? 0;
    if (open >= this.#limit()) return false;
    this.#open.set(key, open + 1);
    socket.once('close', () => {
      const left = (this.#open.get(key) ?? 1) - 1;
      if (left <= 0) this.#open.delete(key);
      else this.#open.set(key, left);
    });
    return true;
  }
}
