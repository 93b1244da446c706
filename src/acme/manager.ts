import type { Logger } from 'pino';
import type { AcmeSettings } from '../config/acme-settings.js';
import type { CertificateSummary } from '../tls/certificate-summary.js';
import type { TlsMaterial } from '../tls/load-tls-material.js';
import type { TlsPolicy } from '../tls/tls-policy.js';
import type { AcmeChallenges } from './challenges.js';
import { openHttpChallenges } from './http-challenge-server.js';
import { tryLock, type LockHolder } from './lock.js';
import { orderCertificate } from './order.js';
import { renewalAttempt, renewalDue, retryAttempt } from './schedule.js';
import { readStoredCertificate } from './stored-certificate.js';
import { acmePaths } from './store.js';

/** While another process holds the order lock, look again this often (it releases within seconds). */
const LOCK_POLL_MS = 1000;

/** What /health, /info, `keepd check` and the metrics say about ACME. */
export interface AcmeStatus {
  directory: string;
  domains: string[];
  challenge: AcmeSettings['challenge'];
  stateDir: string;
  /** ordering: an order is under way; waiting: another process holds the lock; valid: serving, nothing due; failed: the last attempt failed. */
  state: 'ordering' | 'waiting' | 'valid' | 'failed';
  certificate: CertificateSummary | undefined;
  renewAt: Date | undefined;
  nextAttemptAt: Date | undefined;
  lastSuccessAt: Date | undefined;
  consecutiveFailures: number;
  lastError: { message: string; at: Date } | undefined;
  lockHolder: LockHolder | undefined;
}

export interface AcmeManagerOptions {
  log: Logger;
  challenges: AcmeChallenges;
  /** A new certificate (ordered here, or by another process sharing the state folder): into every ACME listener. */
  install: (material: TlsMaterial) => void;
  /** Something the status reports changed. */
  changed: () => void;
  failed: () => void;
  random?: () => number;
}

type Applied = { settings: AcmeSettings; policy: TlsPolicy; host: string | undefined };

/**
 * Obtains and renews the ACME certificate in the background: at once when there is none (or it
 * cannot serve), before it is due otherwise (schedule.ts), retrying with backoff on failure and
 * keeping the current certificate meanwhile. One order at a time per state folder (lock.ts).
 */
export class AcmeManager {
  readonly #options: AcmeManagerOptions;
  #applied: Applied | undefined;
  #key = '';
  #status: AcmeStatus | undefined;
  #material: TlsMaterial | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stopped = false;

  constructor(options: AcmeManagerOptions) {
    this.#options = options;
  }

  status(): AcmeStatus | undefined {
    return this.#status;
  }

  /** The certificate in use (ordered, or stored), or undefined while there is none. */
  material(): TlsMaterial | undefined {
    return this.#material;
  }

  /**
   * The configuration in use (start, each applied reload) and the certificate the state folder
   * holds (`stored`, read by prepare; undefined: none that can serve). A change of the ACME keys
   * starts over from that certificate; the rest only updates the TLS policy.
   */
  apply(settings: AcmeSettings | undefined, stored: TlsMaterial | undefined, policy: TlsPolicy, host: string | undefined): void {
    const key = settings === undefined ? '' : JSON.stringify(settings);
    if (key === this.#key && settings) {
      this.#applied = { settings, policy, host };
      return;
    }
    this.#key = key;
    clearTimeout(this.#timer);
    this.#applied = settings && { settings, policy, host };
    this.#material = stored;
    if (!settings) {
      this.#status = undefined;
      this.#options.changed();
      return;
    }
    const { directory, domains, challenge, stateDir } = settings;
    this.#status = { directory, domains, challenge, stateDir, state: stored ? 'valid' : 'ordering', certificate: stored?.certificate, renewAt: undefined, nextAttemptAt: undefined, lastSuccessAt: undefined, consecutiveFailures: 0, lastError: undefined, lockHolder: undefined };
    this.#schedule(stored ? this.#renewalAt(stored) : Date.now());
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #renewalAt(material: TlsMaterial): number {
    const certificate = times(material);
    const renewBeforeDays = this.#applied?.settings.renewBeforeDays;
    if (this.#status) this.#status.renewAt = new Date(renewalDue(certificate, renewBeforeDays));
    const lastSuccessMs = this.#status?.lastSuccessAt?.getTime();
    return renewalAttempt({ certificate, renewBeforeDays, now: Date.now(), lastSuccessMs, random: (this.#options.random ?? Math.random)() });
  }

  #schedule(at: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped || !this.#status) return;
    this.#status.nextAttemptAt = new Date(at);
    this.#options.changed();
    // setTimeout holds at most 2^31-1 ms (24.8 days): a later moment is reached in steps.
    const delay = Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1);
    const key = this.#key;
    this.#timer = setTimeout(() => {
      if (Date.now() < at) this.#schedule(at);
      else void this.#attempt(key);
    }, delay);
    this.#timer.unref();
  }

  /** One attempt for the configuration `key` (a reload in the meantime makes it moot). */
  async #attempt(key: string): Promise<void> {
    const applied = this.#applied;
    const status = this.#status;
    if (this.#running || !applied || !status || key !== this.#key || this.#stopped) return;
    this.#running = true;
    const { settings } = applied;
    const paths = acmePaths(settings);
    try {
      const lock = await tryLock(paths.lock, paths.dir);
      if (!lock.held) {
        status.state = 'waiting';
        status.lockHolder = lock.holder;
        this.#schedule(Date.now() + LOCK_POLL_MS);
        return;
      }
      status.lockHolder = undefined;
      try {
        await this.#obtain(applied, status, key);
      } finally {
        await lock.release();
      }
    } catch (error) {
      if (key !== this.#key) return;
      status.consecutiveFailures += 1;
      status.state = 'failed';
      const message = `cannot obtain a certificate for ${settings.domains.join(', ')} from ${settings.directory}: ${error instanceof Error ? error.message : String(error)}`;
      status.lastError = { message, at: new Date() };
      this.#options.failed();
      const next = retryAttempt({ failures: status.consecutiveFailures, now: Date.now(), validToMs: this.#material?.certificate.validToMs, random: (this.#options.random ?? Math.random)() });
      const keeping = this.#material ? `; still serving the current certificate (expires ${this.#material.certificate.validTo})` : '; the ACME listeners have no certificate yet';
      this.#options.log.error({ acme: { domains: settings.domains, failures: status.consecutiveFailures, nextAttemptAt: new Date(next).toISOString() } }, `${message}${keeping}; next attempt at ${new Date(next).toISOString()}`);
      this.#schedule(next);
    } finally {
      this.#running = false;
    }
  }

  /** With the lock held: another process's fresh certificate if there is one, else an order. */
  async #obtain(applied: Applied, status: AcmeStatus, key: string): Promise<void> {
    const { settings, policy } = applied;
    const log = this.#options.log;
    const stored = await readStoredCertificate(settings, policy);
    if (stored.state === 'usable' && stored.material.digest !== this.#material?.digest && renewalDue(times(stored.material), settings.renewBeforeDays) > Date.now()) {
      log.info({ acme: { serialNumber: stored.material.certificate.serialNumber } }, `ACME: using the certificate another keepd stored in ${settings.stateDir}`);
      this.#adopt(stored.material, status, key);
      return;
    }
    status.state = 'ordering';
    this.#options.changed();
    log.info({ acme: { domains: settings.domains, directory: settings.directory, challenge: settings.challenge } }, `ACME: ordering a certificate for ${settings.domains.join(', ')} from ${settings.directory} (${settings.challenge})`);
    const http = settings.challenge === 'http-01' ? await openHttpChallenges(settings.httpPort, applied.host, this.#options.challenges) : undefined;
    try {
      await orderCertificate(settings, acmePaths(settings), this.#options.challenges);
    } finally {
      await http?.close();
    }
    const ordered = await readStoredCertificate(settings, policy);
    if (ordered.state !== 'usable') throw new Error(ordered.state === 'unusable' ? ordered.reason : 'the certificate was not stored');
    log.info({ acme: { serialNumber: ordered.material.certificate.serialNumber, notAfter: ordered.material.certificate.validTo } }, `ACME: new certificate for ${settings.domains.join(', ')}, valid until ${ordered.material.certificate.validTo}`);
    this.#adopt(ordered.material, status, key);
  }

  #adopt(material: TlsMaterial, status: AcmeStatus, key: string): void {
    if (key !== this.#key || this.#stopped) return;
    this.#material = material;
    Object.assign(status, { state: 'valid', certificate: material.certificate, lastSuccessAt: new Date(), consecutiveFailures: 0 });
    this.#options.install(material);
    this.#schedule(this.#renewalAt(material));
  }
}

function times(material: TlsMaterial): { validFromMs: number; validToMs: number } {
  return { validFromMs: Date.parse(material.certificate.validFrom), validToMs: material.certificate.validToMs };
}
