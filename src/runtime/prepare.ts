import { indexAccounts, unusableAccountNames, whyNameCannotLogIn, type AccountIndex } from '../accounts/accounts.js';
import { isLoopbackAddress } from '../config/addresses.js';
import type { LoadedConfig } from '../config/assemble.js';
import { perListener, type ListenerName } from '../config/listener-table.js';
import { resolveListenerSettings, type ListenerSettings } from '../config/listener-settings.js';
import { sourcesAt } from '../config/merge.js';
import { formatPath, type ConfigProblem } from '../config/problems.js';
import { tlsWarnings } from '../tls/certificate-checks.js';
import { loadTlsMaterial, type TlsMaterial } from '../tls/load-tls-material.js';
import { resolveTlsPolicy, type TlsPolicy } from '../tls/tls-policy.js';
import type { PreparedListener } from '../listeners/prepared-listener.js';

/** A configuration that is ready to serve: validated, accounts indexed, TLS material loaded. */
export interface PreparedConfig {
  loaded: LoadedConfig;
  accounts: AccountIndex;
  policy: TlsPolicy;
  listeners: Record<ListenerName, PreparedListener>;
  /** Things an admin should know that do not stop keepd. */
  warnings: string[];
}

export type Preparation = { ok: true; prepared: PreparedConfig } | { ok: false; problems: ConfigProblem[] };

function listNames(names: string[]): string {
  return names.length === 1 ? `the ${names[0] ?? ''} listener` : `the ${names.slice(0, -1).join(', ')} and ${names[names.length - 1] ?? ''} listeners`;
}

function sourceLabel(loaded: LoadedConfig, path: string[]): string {
  const found = sourcesAt(loaded.sources, path);
  return found.length > 0 ? found.join(', ') : 'default';
}

function accountWarnings(settings: ListenerSettings[], accounts: AccountIndex): string[] {
  return settings
    .filter((s) => s.enabled && [...(accounts.get(s.realm)?.values() ?? [])].every((account) => !account.active || whyNameCannotLogIn(account.name) !== undefined))
    .map((s) => `no active account in identity.${s.realm}: nobody can log in to the ${s.name} listener`);
}

/** The product's own advice: management reachable from localhost only. */
function managementExposure(management: ListenerSettings): string[] {
  if (!management.enabled || (management.host !== undefined && isLoopbackAddress(management.host))) return [];
  const where = management.host === undefined ? 'all interfaces' : management.host;
  return [`the management listener accepts connections on ${where}: the product recommends localhost only; set listeners.management.HOST to "127.0.0.1" (or HOST, for all listeners)`];
}

/**
 * Everything that can fail before serving, checked up front: TLS policy, every listener's TLS
 * material (each distinct keystore is read once). Used by `keepd check`, start and every reload.
 */
export async function prepareConfig(loaded: LoadedConfig): Promise<Preparation> {
  const { config } = loaded;
  const problems: ConfigProblem[] = [];
  const policyResult = resolveTlsPolicy(config, (path) => sourceLabel(loaded, path));
  problems.push(...policyResult.problems);
  const settingsByName = resolveListenerSettings(config, loaded.configDir);
  const settings = Object.values(settingsByName);
  const policy = policyResult.policy;
  if (!policy) return { ok: false, problems };

  // Group listeners by identical TLS source, so a broken keystore is reported once.
  const groups = new Map<string, ListenerSettings[]>();
  for (const listener of settings) {
    if (!listener.enabled || !listener.tls) continue;
    const key = JSON.stringify(listener.tls);
    groups.set(key, [...(groups.get(key) ?? []), listener]);
  }
  const materials = new Map<string, TlsMaterial>();
  await Promise.all(
    [...groups].map(async ([key, members]) => {
      const first = members[0];
      if (!first?.tls) return;
      const result = await loadTlsMaterial(first.tls, policy);
      if (result.ok) {
        materials.set(key, result.material);
        return;
      }
      const at = [...first.tlsKeysAt, 'TLSFile'];
      problems.push({ source: sourceLabel(loaded, at), path: formatPath(at), message: `TLS of ${listNames(members.map((m) => m.name))}: ${result.message}` });
    }),
  );
  if (problems.length > 0) return { ok: false, problems };

  const listeners = perListener((name): PreparedListener => {
    const own = settingsByName[name];
    return { settings: own, tls: own.enabled && own.tls ? materials.get(JSON.stringify(own.tls)) : undefined };
  });
  const accounts = indexAccounts(config.identity);
  const warnings = [...policy.warnings, ...tlsWarnings(listeners), ...accountWarnings(settings, accounts), ...unusableAccountNames(accounts), ...managementExposure(settingsByName.management)];
  return { ok: true, prepared: { loaded, accounts, policy, listeners, warnings } };
}
