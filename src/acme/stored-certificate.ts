import { stat } from 'node:fs/promises';
import type { AcmeSettings } from '../config/acme-settings.js';
import { certificateValidity } from '../tls/certificate-validity.js';
import type { CertificateSummary } from '../tls/certificate-summary.js';
import { loadTlsMaterial, type TlsMaterial } from '../tls/load-tls-material.js';
import type { TlsPolicy } from '../tls/tls-policy.js';
import { acmePaths } from './store.js';

/** The DNS names a certificate is for (its subjectAltName), lower case. */
export function dnsNames(certificate: Pick<CertificateSummary, 'subjectAltName'>): string[] {
  return (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
}

/** Why a stored certificate cannot serve these domains now, or undefined when it can. */
export function unusableBecause(certificate: CertificateSummary, domains: string[], now: number): string | undefined {
  const names = dnsNames(certificate);
  const missing = domains.filter((domain) => !names.includes(domain));
  if (missing.length > 0) return `it is not for ${missing.join(', ')} (acme.domains changed)`;
  const validity = certificateValidity(certificate, now);
  if (validity.state === 'expired') return `it expired on ${certificate.validTo}`;
  if (validity.state === 'not-yet-valid') return `it is not valid before ${certificate.validFrom} (check this machine's clock)`;
  return undefined;
}

export type StoredCertificate = { state: 'none' } | { state: 'usable'; material: TlsMaterial; storedAtMs: number } | { state: 'unusable'; reason: string };

/**
 * The certificate in the state folder, read as any PEM pair is (tls/load-tls-material.ts), and
 * whether it can serve the configured domains now. Reads files only: never the CA.
 */
export async function readStoredCertificate(settings: AcmeSettings, policy: TlsPolicy, now = Date.now()): Promise<StoredCertificate> {
  const paths = acmePaths(settings);
  // No certificate yet is the normal first start; a damaged file is worth saying.
  const found = await stat(paths.certificate).catch(() => undefined);
  if (!found) return { state: 'none' };
  const loaded = await loadTlsMaterial({ type: 'pem', file: paths.certificate, pemCert: paths.certificate, password: undefined }, policy, now);
  if (!loaded.ok) return { state: 'unusable', reason: loaded.message };
  const reason = unusableBecause(loaded.material.certificate, settings.domains, now);
  if (reason !== undefined) return { state: 'unusable', reason: `the stored certificate ${paths.certificate}: ${reason}` };
  // Stored certificates are checked here; the load's own expiry warnings would repeat it.
  return { state: 'usable', material: { ...loaded.material, certificateFile: `ACME ${paths.certificate}`, warnings: [] }, storedAtMs: found.mtimeMs };
}
