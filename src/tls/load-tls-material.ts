import { createHash } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { certificateOf, summarizeCertificate, type CertificateSummary } from './certificate-summary.js';
import { validityWarning } from './certificate-validity.js';
import { sniffKeystore } from './keystore-kind.js';
import { describeFsError, errorCode } from '../support/errors.js';
import { formatLimit, formatSeconds, formatSize } from '../config/read-failure.js';
import { readRegularFile, type ReadFailure, type ReadLimits } from '../config/safe-read.js';
import type { TlsSource } from '../config/listener-settings.js';
import type { TlsPolicy } from './tls-policy.js';


/** Validated TLS material: options that createSecureContext accepted, and what they present. */
export interface TlsMaterial {
  options: SecureContextOptions;
  certificate: CertificateSummary;
  /** Changes whenever the key, certificate or password does: tells a reload whether to swap. */
  digest: string;
  /** Where the certificate came from, for messages: "TLSFile /x.pfx" or "PEMCert /y.pem". */
  certificateFile?: string;
  /**
   * What an admin should know that does not stop keepd (the certificate is expired or not yet
   * valid at load time); about the file, not the listeners: tlsWarnings() names those.
   */
  warnings?: string[];
}

export type TlsLoad = { ok: true; material: TlsMaterial } | { ok: false; message: string };

class TlsMaterialError extends Error {}

/**
 * How TLS files are read. A keystore, a PEM key or a chain is a few KiB (a long chain some tens):
 * anything above 1 MiB is not one. A local disk answers in milliseconds; the deadline is for a
 * hung network mount, which must not hold up keepd (see config/safe-read.ts).
 */
export const TLS_READ_LIMITS: ReadLimits = { maxBytes: 1024 * 1024, deadlineMs: 5000 };

/** Why a TLS file could not be read, worded for the key that names it. */
export function describeTlsReadFailure(failure: ReadFailure, key: 'TLSFile' | 'PEMCert'): string {
  const what = `cannot read ${key} ${failure.file}`;
  switch (failure.kind) {
    case 'missing':
      return failure.danglingLink
        ? `${what}: it is a symbolic link to ${failure.danglingLink.missingTarget}, which does not exist; restore the target or fix the link`
        : `${what}: it does not exist; check the path (relative paths are resolved against the configuration directory)`;
    case 'not-regular':
      return `${what}: it is a ${failure.type}, not a regular file; point ${key} at the ${key === 'PEMCert' ? 'certificate chain' : 'keystore or private key'} file itself`;
    case 'too-large':
      return (
        `${what}: it is ${formatSize(failure.size)}, over the limit of ${formatLimit(failure.maxBytes)} for a TLS file ` +
        `(a keystore or PEM file is a few KiB); check that ${key} names the right file`
      );
    case 'timeout':
      if (failure.state === 'too-many-stuck') {
        return (
          `${what}: not tried, because reading ${(failure.stuck ?? []).join(', ')} did not finish within ${formatSeconds(failure.deadlineMs)} ` +
          '(a hung network mount?) and no other read starts until one of them ends; fix the mount'
        );
      }
      // The same words while an earlier read of it is still stuck: the problem is the same.
      return `${what}: reading it did not finish within ${formatSeconds(failure.deadlineMs)} (a hung network mount?); fix the mount or copy the file to a local disk`;
    case 'io':
      return failure.code === 'ELOOP' ? `${what}: it is a symbolic link loop` : `${what}: ${describeFsError(failure.cause)}`;
  }
}

/** A TLS file's bytes: a regular file only, within TLS_READ_LIMITS; never blocks keepd. */
async function readMaterial(file: string, key: 'TLSFile' | 'PEMCert'): Promise<Buffer> {
  const result = await readRegularFile(file, TLS_READ_LIMITS);
  if (!result.ok) throw new TlsMaterialError(describeTlsReadFailure(result.failure, key));
  return result.bytes;
}

/** A JKS keystore's first key entry as PEM (Node cannot read JKS). Loaded only when a JKS is used. */
async function jksToPemOptions(bytes: Buffer, source: TlsSource): Promise<SecureContextOptions> {
  const { toPem } = await import('jks-js');
  let entries;
  try {
    entries = toPem(bytes, source.password ?? '');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/password/i.test(message)) throw new TlsMaterialError(`TLSFile ${source.file}: wrong TLSPassword for this JKS keystore (its integrity check failed)`);
    throw new TlsMaterialError(`TLSFile ${source.file}: cannot read this JKS keystore (${message})`);
  }
  const withKey = Object.values(entries).find((entry) => entry.key !== undefined && entry.cert !== undefined);
  if (!withKey?.key || !withKey.cert) {
    throw new TlsMaterialError(`TLSFile ${source.file}: the JKS keystore holds no private key entry (only trusted certificates); import the server's key and certificate`);
  }
  return { key: withKey.key, cert: withKey.cert };
}

async function keystoreOptions(source: TlsSource): Promise<SecureContextOptions> {
  const bytes = await readMaterial(source.file, 'TLSFile');
  switch (sniffKeystore(bytes)) {
    case 'pkcs12':
      return { pfx: bytes, passphrase: source.password ?? '' };
    case 'jks':
      return jksToPemOptions(bytes, source);
    case 'jceks':
      throw new TlsMaterialError(
        `TLSFile ${source.file} is a JCEKS keystore, which keepd cannot read. Convert it to PKCS12: ` +
          `keytool -importkeystore -srckeystore ${source.file} -srcstoretype JCEKS -destkeystore keepd.p12 -deststoretype PKCS12, ` +
          'then point TLSFile at keepd.p12 with TLSType "pfx"',
      );
    case 'pem':
      throw new TlsMaterialError(`TLSFile ${source.file} is a PEM file, not a ${source.type} keystore: use TLSType "pem", with TLSFile the private key and PEMCert the certificate chain`);
    case 'unknown':
      throw new TlsMaterialError(`TLSFile ${source.file} is neither a PKCS#12 (pfx) nor a JKS keystore; check TLSFile and TLSType`);
  }
}

const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/;

async function pemOptions(source: TlsSource): Promise<SecureContextOptions> {
  const key = (await readMaterial(source.file, 'TLSFile')).toString('utf8');
  const cert = (await readMaterial(source.pemCert ?? '', 'PEMCert')).toString('utf8');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    const swapped = key.includes('-----BEGIN CERTIFICATE-----') && /PRIVATE KEY-----/.test(cert);
    throw new TlsMaterialError(
      swapped
        ? `TLSFile ${source.file} holds a certificate and PEMCert ${source.pemCert ?? ''} the key: for TLSType "pem", TLSFile is the private key and PEMCert the chain; swap them`
        : `TLSFile ${source.file} holds no PEM private key ("-----BEGIN PRIVATE KEY-----"); for TLSType "pem", TLSFile is the private key`,
    );
  }
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) {
    throw new TlsMaterialError(`PEMCert ${source.pemCert ?? ''} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  }
  if (ENCRYPTED_PEM.test(key) && !source.password) {
    throw new TlsMaterialError(`TLSFile ${source.file}: the private key is encrypted; set TLSPassword to its password`);
  }
  return source.password ? { key, cert, passphrase: source.password } : { key, cert };
}

/** What an OpenSSL error means for the admin, and what to do about it. */
function explainOpenSslError(error: unknown, source: TlsSource): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = errorCode(error);
  const file = source.file;
  if (message.includes('mac verify failure')) return `TLSFile ${file}: wrong TLSPassword for this PKCS#12 file (its integrity check failed)${source.password ? '' : '; it needs a password'}`;
  if (message.includes('Unsupported PKCS12 PFX data')) {
    return (
      `TLSFile ${file} uses legacy PKCS#12 encryption (RC2/3DES, typical of old Windows or Java exports) that OpenSSL 3 no longer reads. ` +
      `Re-export it with modern encryption: openssl pkcs12 -legacy -in ${file} -nodes -out tmp.pem && openssl pkcs12 -export -in tmp.pem -out keepd.pfx && rm tmp.pem`
    );
  }
  if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') {
    return source.type === 'pem'
      ? `the private key TLSFile ${file} does not match the certificate PEMCert ${source.pemCert ?? ''}: use the key the certificate was issued for`
      : `TLSFile ${file}: its private key does not match its certificate; re-export the keystore with the matching pair`;
  }
  if (code === 'ERR_OSSL_BAD_DECRYPT' || message.includes('bad decrypt')) return `TLSFile ${file}: wrong TLSPassword for the encrypted private key`;
  if (code === 'ERR_OSSL_PEM_NO_START_LINE' || code === 'ERR_OSSL_UNSUPPORTED' || message.includes('DECODER')) {
    return `TLSFile ${file}${source.pemCert ? ` / PEMCert ${source.pemCert}` : ''}: OpenSSL cannot decode it (${message})`;
  }
  if (message.includes('not enough data') || message.includes('asn1') || message.includes('ASN1')) return `TLSFile ${file} is damaged or not a PKCS#12 file (${message})`;
  if (message.includes('no cipher match')) return `none of the configured cipher suites is available (${message})`;
  return `TLSFile ${file}: ${message}`;
}

function digestOf(options: SecureContextOptions): string {
  const hash = createHash('sha256');
  for (const part of [options.pfx, options.key, options.cert, options.passphrase]) {
    hash.update(Buffer.isBuffer(part) ? part : typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.alloc(0));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * Reads and validates a listener's TLS material: files readable, password right, key matching
 * certificate, all accepted by OpenSSL under the policy. Nothing is served until this passes.
 */
export async function loadTlsMaterial(source: TlsSource, policy: TlsPolicy, now: number = Date.now()): Promise<TlsLoad> {
  let options: SecureContextOptions;
  try {
    options = source.type === 'pem' ? await pemOptions(source) : await keystoreOptions(source);
  } catch (error) {
    if (error instanceof TlsMaterialError) return { ok: false, message: error.message };
    throw error;
  }
  let certificate;
  try {
    const context = createSecureContext({ ...options, minVersion: policy.minVersion, maxVersion: policy.maxVersion, ciphers: policy.ciphers });
    certificate = certificateOf(context);
  } catch (error) {
    return { ok: false, message: explainOpenSslError(error, source) };
  }
  if (!certificate) return { ok: false, message: `TLSFile ${source.file}: holds no certificate` };
  const summary = summarizeCertificate(certificate);
  const certificateFile = source.type === 'pem' ? `PEMCert ${source.pemCert ?? ''}` : `TLSFile ${source.file}`;
  const warning = validityWarning(summary, certificateFile, now);
  return { ok: true, material: { options, certificate: summary, digest: digestOf(options), certificateFile, warnings: warning === undefined ? [] : [warning] } };
}
