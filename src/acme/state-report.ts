import type { AcmeSettings } from '../config/acme-settings.js';
import { readIfPresent, readAccount, acmePaths } from './store.js';
import type { StoredCertificate } from './stored-certificate.js';
import { renewalDue } from './schedule.js';

/** What `keepd check` says about ACME, from the configuration and the state folder only (never the CA). */
export function describeAcme(settings: AcmeSettings, stored: StoredCertificate, account: { url: string } | undefined, lock: string | undefined, now = Date.now()): string[] {
  const where = settings.challenge === 'http-01' ? `http-01 on port ${settings.httpPort}` : `tls-alpn-01 on the ${settings.listeners.join(', ')} listener${settings.listeners.length === 1 ? '' : 's'}`;
  const lines = [`certificate for ${settings.domains.join(', ')} from ${settings.directory} (${where}); state in ${settings.stateDir}`];
  lines.push(account ? `account: ${account.url}` : 'account: none yet (registered with the first order)');
  switch (stored.state) {
    case 'none':
      lines.push('certificate: none yet; keepd orders one when it starts, and its ACME listeners serve once it has it');
      break;
    case 'unusable':
      lines.push(`certificate: ${stored.reason}; keepd orders a new one when it starts`);
      break;
    case 'usable': {
      const { certificate } = stored.material;
      const due = renewalDue({ validFromMs: Date.parse(certificate.validFrom), validToMs: certificate.validToMs }, settings.renewBeforeDays);
      const when = due <= now ? 'due now: keepd renews it when it starts' : `renewal due ${new Date(due).toISOString()}`;
      lines.push(`certificate: serial ${certificate.serialNumber}, valid until ${certificate.validTo}; ${when}`);
    }
  }
  if (lock !== undefined) lines.push(`order lock: ${lock} (an order is under way, or a keepd stopped while ordering; taken over when stale)`);
  return lines;
}

/** describeAcme with the account and lock read from the state folder. */
export async function acmeStateLines(settings: AcmeSettings, stored: StoredCertificate): Promise<string[]> {
  const paths = acmePaths(settings);
  const account = await readAccount(paths).catch(() => undefined);
  const lock = await readIfPresent(paths.lock).catch(() => undefined);
  return describeAcme(settings, stored, account?.account, lock);
}
