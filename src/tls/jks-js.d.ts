// jks-js ships no types; this is the part keepd uses.
declare module 'jks-js' {
  interface PemEntry {
    cert?: string;
    key?: string;
    ca?: string;
  }
  /** A JKS (or PKCS12) keystore to PEM entries by alias; throws on a wrong password. */
  export function toPem(keystore: Buffer, keystorePassword: string, privateKeyPassword?: string): Record<string, PemEntry>;
}
