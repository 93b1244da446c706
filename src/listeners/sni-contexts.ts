import { createSecureContext, type SecureContext } from 'node:tls';
import type { TlsPolicy } from '../tls/tls-policy.js';
import type { SniMaterial } from './prepared-listener.js';
import { secureServerOptions } from './server-options.js';

/**
 * A TLS listener's extra certificates (`certificates`), each as a secure context, by the
 * lower-case name a client asks for (SNI); `*.example.com` matches one label. No match: the
 * listener's main certificate.
 */
export class SniContexts {
  #entries: SniMaterial[] = [];
  #byName = new Map<string, SecureContext>();

  get entries(): SniMaterial[] {
    return this.#entries;
  }

  set(entries: SniMaterial[], policy: TlsPolicy): void {
    const byName = new Map<string, SecureContext>();
    for (const entry of entries) {
      const context = createSecureContext(secureServerOptions(entry.material, policy));
      // The first certificate that names a host wins, as the list is ordered.
      for (const name of entry.hostnames) if (!byName.has(name)) byName.set(name, context);
    }
    this.#entries = entries;
    this.#byName = byName;
  }

  /** Exact name, then the `*.` wildcard one label down; undefined: the main certificate. */
  contextFor(servername: string): SecureContext | undefined {
    if (this.#byName.size === 0) return undefined;
    // `keep.example.com.` (fully qualified, with its root dot) is keep.example.com.
    const name = servername.toLowerCase().replace(/\.$/, '');
    const exact = this.#byName.get(name);
    if (exact) return exact;
    const dot = name.indexOf('.');
    return dot > 0 ? this.#byName.get(`*${name.slice(dot)}`) : undefined;
  }
}
