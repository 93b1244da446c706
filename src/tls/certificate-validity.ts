import type { CertificateSummary } from './certificate-summary.js';

const DAY_MS = 86_400_000;

/**
 * Where a certificate stands at a moment, by its notBefore/notAfter (both inclusive, as X.509
 * reads them). Days are whole days, rounded down: 0 means less than a day.
 */
export type CertificateValidity =
  | { state: 'valid'; daysLeft: number }
  | { state: 'expired'; daysAgo: number }
  | { state: 'not-yet-valid'; daysUntilValid: number };

/** Classifies a certificate at `now` (ms since the epoch). Pure: the clock is the caller's. */
export function certificateValidity(certificate: Pick<CertificateSummary, 'validFrom' | 'validToMs'>, now: number): CertificateValidity {
  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = certificate.validToMs;
  // Expired first: a certificate whose notAfter precedes its notBefore is of no use either way.
  if (now > notAfter) return { state: 'expired', daysAgo: Math.floor((now - notAfter) / DAY_MS) };
  if (now < notBefore) return { state: 'not-yet-valid', daysUntilValid: Math.floor((notBefore - now) / DAY_MS) };
  return { state: 'valid', daysLeft: Math.floor((notAfter - now) / DAY_MS) };
}

function days(count: number): string {
  return count === 0 ? 'less than a day' : count === 1 ? '1 day' : `${count} days`;
}

/** "the certificate (CN=x, serial 0A) from PEMCert /etc/keepd/chain.pem", for messages. */
export function describeCertificate(certificate: Pick<CertificateSummary, 'subject' | 'serialNumber'>, file: string): string {
  return `the certificate (${certificate.subject}, serial ${certificate.serialNumber}) in ${file}`;
}

/**
 * The warning `keepd check` and start print for a certificate clients will refuse now, or
 * undefined when it is valid. `file` names where it came from ("TLSFile /x", "PEMCert /y").
 */
export function validityWarning(certificate: Pick<CertificateSummary, 'subject' | 'serialNumber' | 'validFrom' | 'validTo' | 'validToMs'>, file: string, now: number): string | undefined {
  const validity = certificateValidity(certificate, now);
  const which = describeCertificate(certificate, file);
  switch (validity.state) {
    case 'valid':
      return undefined;
    case 'expired':
      return (
        `${which} expired on ${certificate.validTo} (${days(validity.daysAgo)} ago): clients refuse it. ` +
        'Install a renewed certificate with its key, then reload (a running keepd does not swap to an expired certificate)'
      );
    case 'not-yet-valid':
      return (
        `${which} is not valid before ${certificate.validFrom} (in ${days(validity.daysUntilValid)}; this machine's clock says ${new Date(now).toISOString()}): ` +
        "clients refuse it until then. Check this machine's clock, or install a certificate that is valid now"
      );
  }
}
