import type { SecureContext } from 'node:tls';

/**
 * The challenges of the order under way, where the listeners find them: tls-alpn-01 answers by
 * DNS name (a self-signed certificate carrying the key authorization, presented only to a
 * client that offers the `acme-tls/1` protocol), http-01 by token.
 */
export class AcmeChallenges {
  readonly #alpn = new Map<string, SecureContext>();
  readonly #http = new Map<string, string>();

  setAlpn(domain: string, context: SecureContext): void {
    this.#alpn.set(domain.toLowerCase(), context);
  }

  deleteAlpn(domain: string): void {
    this.#alpn.delete(domain.toLowerCase());
  }

  /** The challenge certificate for a name (SNI), or undefined when none is pending. */
  alpn(servername: string): SecureContext | undefined {
    return this.#alpn.size === 0 ? undefined : this.#alpn.get(servername.toLowerCase().replace(/\.$/, ''));
  }

  setHttp(token: string, keyAuthorization: string): void {
    this.#http.set(token, keyAuthorization);
  }

  deleteHttp(token: string): void {
    this.#http.delete(token);
  }

  http(token: string): string | undefined {
    return this.#http.get(token);
  }
}
