import { homedir } from 'node:os';
import path from 'node:path';
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING, type AcmeChallenge } from './acme-schema.js';
import { isLoopbackAddress } from './addresses.js';
import { LISTENER_NAMES, type ListenerName } from './listener-table.js';
import type { ListenerSettings } from './listener-settings.js';
import type { KeepConfig } from './schema.js';

/** The `acme` block resolved: paths absolute, the listeners that use it named. */
export interface AcmeSettings {
  directory: string;
  email: string | undefined;
  /** Lower case, in the order given; the first is the certificate's common name. */
  domains: string[];
  challenge: AcmeChallenge;
  httpPort: number;
  /** http-01 binds here: the ACME listeners' address when they share one, else all interfaces (undefined). */
  httpHost: string | undefined;
  /** Account key, certificates and the lock file (created 0700). */
  stateDir: string;
  caFile: string | undefined;
  /** The enabled listeners whose certificate comes from ACME. */
  listeners: ListenerName[];
  /** undefined: a third of the certificate's lifetime. */
  renewBeforeDays: number | undefined;
}

/**
 * Where keepd keeps ACME state when `acme.stateDir` is not set: never in the configuration
 * folder (a copied or published keepconfig.d must not carry private keys). systemd's
 * StateDirectory= ($STATE_DIRECTORY), else the XDG state folder.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const systemd = env.STATE_DIRECTORY?.split(':')[0];
  if (systemd) return path.join(systemd, 'acme');
  const xdg = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(env.HOME ?? homedir(), '.local', 'state');
  return path.join(xdg, 'keepd', 'acme');
}

/** undefined while `acme.domains` is empty (ACME off). */
export function resolveAcme(config: KeepConfig, configDir: string, listeners: ListenerSettings[], env: NodeJS.ProcessEnv = process.env): AcmeSettings | undefined {
  const { acme } = config;
  if (acme.domains.length === 0) return undefined;
  const using = listeners.filter((listener) => listener.enabled && listener.acme);
  const hosts = new Set(using.map((listener) => listener.host));
  return {
    directory: acme.directory,
    email: acme.email,
    domains: [...new Set(acme.domains.map((name) => name.replace(/\.$/, '')))],
    challenge: acme.challenge,
    httpPort: acme.httpPort,
    httpHost: hosts.size === 1 ? [...hosts][0] : undefined,
    stateDir: acme.stateDir === undefined ? defaultStateDir(env) : path.resolve(configDir, acme.stateDir),
    caFile: acme.caFile === undefined ? undefined : path.resolve(configDir, acme.caFile),
    listeners: using.map((listener) => listener.name),
    renewBeforeDays: acme.renewBeforeDays,
  };
}

export interface AcmeProblem {
  path: (string | number)[];
  message: string;
}

/** Configurations ACME cannot serve: keepd refuses them (at start, on reload, in `keepd check`). */
export function acmeProblems(config: KeepConfig, acme: AcmeSettings | undefined, listeners: Record<ListenerName, ListenerSettings>): AcmeProblem[] {
  const out: AcmeProblem[] = [];
  const named = config.acme.listeners ?? [];
  for (const [index, name] of named.entries()) {
    const block = config.listeners[name];
    if (block?.TLSFile !== undefined || block?.TLSType !== undefined) {
      out.push({ path: ['acme', 'listeners', index], message: `names the ${name} listener, which has TLS keys of its own (listeners.${name}.TLSFile): a listener takes its certificate from files or from ACME; remove one` });
    }
  }
  if (config.acme.listeners && config.acme.domains.length === 0) {
    out.push({ path: ['acme', 'domains'], message: 'is empty while acme.listeners names listeners: list the DNS names to order a certificate for' });
  }
  if (!acme) return out;
  if (acme.listeners.length === 0) {
    const disabled = named.filter((name) => !listeners[name].enabled);
    if (config.acme.listeners?.length === 0) out.push({ path: ['acme', 'listeners'], message: 'is empty while acme.domains is set: name the listeners whose certificate comes from ACME, such as ["front"], or leave the key out (every listener without TLS keys)' });
    else if (disabled.length > 0) out.push({ path: ['acme', 'listeners'], message: `names only disabled listeners (${disabled.join(', ')}): enable them, or name others` });
    else out.push({ path: ['acme', 'domains'], message: 'is set, but no enabled listener takes its certificate from ACME (each has TLS keys): name them in acme.listeners, such as ["front"]' });
  }
  const httpListener = LISTENER_NAMES.find((name) => acme.challenge === 'http-01' && listeners[name].enabled && listeners[name].port === acme.httpPort);
  if (httpListener) {
    out.push({ path: ['acme', 'httpPort'], message: `is ${acme.httpPort}, the port of the ${httpListener} listener: http-01 needs a port of its own (80 for a public CA)` });
  }
  return out;
}

const PUBLIC_CAS = new Set([LETS_ENCRYPT, LETS_ENCRYPT_STAGING]);

/** What an admin should know that does not stop keepd. */
export function acmeWarnings(acme: AcmeSettings | undefined, listeners: Record<ListenerName, ListenerSettings>, configDir: string): string[] {
  if (!acme) return [];
  const out: string[] = [];
  const publicCa = PUBLIC_CAS.has(acme.directory);
  if (publicCa && acme.challenge === 'tls-alpn-01' && !acme.listeners.some((name) => listeners[name].port === 443)) {
    out.push(`acme.challenge is tls-alpn-01, which ${acme.directory} validates on port 443, and no ACME listener (${acme.listeners.join(', ')}) is on port 443: forward 443 to one of them, or use "http-01"`);
  }
  if (publicCa && acme.challenge === 'http-01' && acme.httpPort !== 80) {
    out.push(`acme.httpPort is ${acme.httpPort}; ${acme.directory} validates http-01 on port 80: forward port 80 to ${acme.httpPort}`);
  }
  if (publicCa && acme.listeners.length > 0 && acme.listeners.every((name) => isLoopbackAddress(listeners[name].host ?? ''))) {
    out.push(`the ACME listeners (${acme.listeners.join(', ')}) listen on loopback only: ${acme.directory} cannot reach them to validate ${acme.challenge}; give them a public HOST`);
  }
  const relative = path.relative(configDir, acme.stateDir);
  if (!relative.startsWith('..') && !path.isAbsolute(relative)) {
    out.push(`acme.stateDir ${acme.stateDir} is inside the configuration folder: its private keys travel with every copy of keepconfig.d; choose a folder outside it`);
  }
  return out;
}
