import { X509Certificate } from 'node:crypto';
import { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';

/** What /info, /health and the metrics say about a listener's certificate. */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  subjectAltName: string | undefined;
  serialNumber: string;
  fingerprint256: string;
  validFrom: string;
  validTo: string;
  /** Milliseconds since the epoch, for metrics and expiry arithmetic. */
  validToMs: number;
  /** The key's type, as Node names it: `rsa`, `ec`, `ed25519`... */
  keyType?: string;
}

export function summarizeCertificate(certificate: X509Certificate): CertificateSummary {
  const validToMs = Date.parse(certificate.validTo);
  return {
    subject: certificate.subject.replaceAll('\n', ', '),
    issuer: certificate.issuer.replaceAll('\n', ', '),
    subjectAltName: certificate.subjectAltName,
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
    validFrom: new Date(Date.parse(certificate.validFrom)).toISOString(),
    validTo: new Date(validToMs).toISOString(),
    validToMs,
    ...(certificate.publicKey.asymmetricKeyType === undefined ? {} : { keyType: certificate.publicKey.asymmetricKeyType }),
  };
}

/**
 * The leaf certificate a secure context would present. A server-side TLSSocket that never
 * connects is the public way to ask OpenSSL, and works alike for PEM, PKCS#12 and converted JKS.
 */
export function certificateOf(secureContext: SecureContext): X509Certificate | undefined {
  const socket = new TLSSocket(new Socket(), { secureContext, isServer: true });
  try {
    const raw = socket.getCertificate();
    return raw && 'raw' in raw ? new X509Certificate(raw.raw) : undefined;
  } finally {
    socket.destroy();
  }
}

export function daysUntil(ms: number, now = Date.now()): number {
  return Math.floor((ms - now) / 86_400_000);
}
