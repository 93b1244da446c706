import type { SecureContext } from 'node:tls';

/*
 * tls-alpn-01 (RFC 8737) on a listener that serves clients at the same time: the CA connects
 * offering only the `acme-tls/1` protocol and must get the challenge certificate for the name it
 * asks for; every other client gets the listener's own. Node picks the protocol (ALPNCallback)
 * before the certificate (SNICallback), both on the same socket: the first marks the socket.
 */

export const ACME_TLS_PROTOCOL = 'acme-tls/1';

/**
 * The protocol to answer with: `acme-tls/1` when offered and a challenge is pending for the name,
 * else the first of ours the client offers (server preference, as Node's own selection), else
 * undefined (the handshake fails with no_application_protocol, as it does without this).
 */
export function selectAlpn(offered: readonly string[], ours: readonly string[], challengePending: boolean): string | undefined {
  if (challengePending && offered.includes(ACME_TLS_PROTOCOL)) return ACME_TLS_PROTOCOL;
  return ours.find((protocol) => offered.includes(protocol));
}

type SniCallback = (servername: string, done: (error: Error | null, context?: SecureContext) => void) => void;

/** ALPNCallback and SNICallback for an ACME listener: challenges first, then `sni` (the listener's certificates). */
export function acmeAlpnCallbacks(
  ours: readonly string[],
  challenge: (servername: string) => SecureContext | undefined,
  sni: (servername: string) => SecureContext | undefined,
): { ALPNCallback: (this: object, offer: { servername?: string | false; protocols: string[] }) => string | undefined; SNICallback: SniCallback } {
  const challenged = new WeakSet<object>();
  return {
    ALPNCallback(this: object, { servername, protocols }) {
      // A client without SNI (servername false) names no domain: no challenge for it.
      const selected = selectAlpn(protocols, ours, typeof servername === 'string' && challenge(servername) !== undefined);
      if (selected === ACME_TLS_PROTOCOL) challenged.add(this);
      return selected;
    },
    SNICallback(this: unknown, servername, done) {
      const forChallenge = typeof this === 'object' && this !== null && challenged.has(this);
      done(null, forChallenge ? challenge(servername) : sni(servername));
    },
  };
}
