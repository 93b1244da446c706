import { saltPlatformPassword } from '../accounts/platform-secret.js';
import { describePublicCredential, findPublicCredentials, PUBLIC_PASSWORDS } from '../accounts/public-credentials.js';
import { assembleConfig } from '../config/assemble.js';
import type { Environment } from '../config/env-layer.js';
import { resolveListenerSettings, type ListenerSettings } from '../config/listener-settings.js';
import { perListener, type ListenerName } from '../config/listener-table.js';
import type { TlsMaterial } from '../tls/load-tls-material.js';
import type { ConfigProblem } from '../config/problems.js';
import type { ReloadOutcome } from '../listeners/reload-outcome.js';
import type { ListenerChange, RunningListener } from './plan.js';
import { yieldToEventLoop } from '../support/yield.js';
import { plan, tlsRemovals } from './plan.js';
import { expiredSniSwaps, expiredSwaps } from '../tls/certificate-checks.js';
import { prepareConfig, type PreparedConfig } from './prepare.js';

/*
 * The reload pipeline: assemble -> prepare -> plan -> apply. The first three are here and decide;
 * the daemon applies (listener-set.ts does the socket work) and swaps in the new snapshot.
 */

/** The configuration in use, as one value: a reload replaces it with one assignment. */
export interface Snapshot {
  prepared: PreparedConfig;
  generation: number;
  loadedAt: Date;
}

export type Loaded =
  | { ok: true; prepared: PreparedConfig }
  /** `settings`: the listeners the refused configuration names, when it got that far (to watch its TLS files). */
  | { ok: false; problems: ConfigProblem[]; settings?: ListenerSettings[] };

/**
 * Assemble and prepare: files, environment, schema, TLS material; in strict mode accounts with
 * public passwords too. What `keepd start`, `keepd check` and every reload go through. `signal`
 * bounds the strict check (a reload must not hold up the next one, nor a stop, for minutes).
 */
export async function loadConfiguration(configDir: string, env: Environment, strict: boolean, signal?: AbortSignal): Promise<Loaded> {
  const assembled = await assembleConfig(configDir, env, saltPlatformPassword);
  if (!assembled.ok) return assembled;
  const settings = Object.values(resolveListenerSettings(assembled.loaded.config, assembled.loaded.configDir));
  await yieldToEventLoop();
  const preparation = await prepareConfig(assembled.loaded);
  await yieldToEventLoop();
  if (!preparation.ok) return { ...preparation, settings };
  if (strict || preparation.prepared.loaded.config.strict) {
    const { accounts } = preparation.prepared;
    let checked = 0;
    const found = await findPublicCredentials(accounts, { onProgress: (n) => (checked = n), ...(signal ? { signal } : {}) });
    if (signal?.aborted === true) {
      const total = [...accounts.values()].reduce((sum, realm) => sum + realm.size, 0);
      const message = `the strict check for public passwords was stopped after ${checked} of ${total} accounts (each new secret costs up to ${PUBLIC_PASSWORDS.length} PBKDF2 runs); what it judged is kept, so reload again to go on`;
      return { ok: false, problems: [{ source: 'strict', message }], settings };
    }
    if (found.length > 0) return { ok: false, problems: found.map((c) => ({ source: 'strict', message: describePublicCredential(c) })), settings };
  }
  return preparation;
}

/** Anything a report or a request reads differs: values, where they came from, which files. */
export function configurationChanged(current: PreparedConfig, next: PreparedConfig): boolean {
  const view = (p: PreparedConfig): string => JSON.stringify([p.loaded.merged, p.loaded.sources, p.loaded.files]);
  return view(current) !== view(next);
}

export type Decision =
  | { status: 'unchanged' }
  | { status: 'apply'; changes: ListenerChange[]; described: string[]; answerFirst: boolean };

/**
 * What a valid configuration asks for, compared with what runs. `answerFirst`: the caller is on
 * a listener about to be rebound or stopped, so it must get its answer before (it cannot say how
 * the change went); otherwise after, with any errors.
 */
/** The gateway's upstream, when a reload changes it (applied in place: no listener work). */
function upstreamChange(current: PreparedConfig, next: PreparedConfig): string[] {
  if (JSON.stringify(current.upstream) === JSON.stringify(next.upstream)) return [];
  const was = current.upstream?.settings.origin ?? 'none';
  const now = next.upstream?.settings.origin ?? 'none';
  return [`data: upstream ${was === now ? `${now} (settings)` : `${was} -> ${now}`}`];
}

/** What a reload never does, whatever the files say: turn TLS off, or swap a valid certificate for an expired one. */
export function refusals(running: Partial<Record<ListenerName, RunningListener>>, next: PreparedConfig): string[] {
  return [...tlsRemovals(running, next), ...expiredSwaps(running, next.listeners), ...expiredSniSwaps(running, next.listeners)];
}

export function decide(current: PreparedConfig, next: PreparedConfig, running: Partial<Record<ListenerName, RunningListener>>, callerOn: readonly ListenerName[]): Decision {
  const changes = plan(running, next);
  const configChanged = configurationChanged(current, next);
  if (!configChanged && changes.length === 0) return { status: 'unchanged' };
  const described = [...(configChanged ? ['configuration'] : []), ...upstreamChange(current, next), ...changes.map((c) => `${c.name}: ${c.action} (${c.reason})`)];
  const answerFirst = changes.some((c) => callerOn.includes(c.name) && (c.action === 'rebind' || c.action === 'stop'));
  return { status: 'apply', changes, described, answerFirst };
}

export function rejected(generation: number, problems: string[]): ReloadOutcome {
  return { status: 'rejected', generation, problems };
}

/**
 * The ACME certificate in use, where it is newer than what a reload read from disk (a renewal
 * finished after the read): the plan must not swap an older certificate back in.
 */
export function withNewerAcmeCertificate(prepared: PreparedConfig, inUse: TlsMaterial | undefined): PreparedConfig {
  if (!inUse) return prepared;
  const listeners = perListener((name) => {
    const listener = prepared.listeners[name];
    const older = listener.tls === undefined || listener.tls.certificate.validToMs < inUse.certificate.validToMs;
    return listener.settings.acme && older ? { ...listener, tls: inUse } : listener;
  });
  return { ...prepared, listeners };
}
