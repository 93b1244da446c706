import { LISTENER_NAMES, type ListenerName } from '../config/listener-table.js';
import type { ListenerSettings } from '../config/listener-settings.js';
import type { PreparedListener, SniMaterial } from '../listeners/prepared-listener.js';
import { sniKey } from './prepare-sni.js';
import type { TlsMaterial } from '../tls/load-tls-material.js';
import type { TlsPolicy } from '../tls/tls-policy.js';

export type ListenerAction = 'start' | 'stop' | 'rebind' | 'swap-tls' | 'tune';

export interface ListenerChange {
  name: ListenerName;
  action: ListenerAction;
  reason: string;
}

/** What a running server was built (or last swapped and tuned) with. */
export interface RunningListener {
  settings: ListenerSettings;
  tls: TlsMaterial | undefined;
  policy: TlsPolicy;
  sni: SniMaterial[];
}

/** The part of a prepared configuration that decides socket work. */
export interface NextListeners {
  listeners: Record<ListenerName, PreparedListener>;
  policy: TlsPolicy;
}

/** Limits a server takes only when it is built: a change needs a new server. */
const FIXED_LIMITS = ['maxHeaderBytes', 'maxBodyBytes', 'handshakeTimeoutMs'] as const;

/** TLS from files or from ACME (an ACME listener serves TLS before it has its certificate). */
function servesTls(settings: ListenerSettings, tls: TlsMaterial | undefined): boolean {
  return tls !== undefined || settings.acme;
}

function samePolicy(a: TlsPolicy, b: TlsPolicy): boolean {
  return a.minVersion === b.minVersion && a.maxVersion === b.maxVersion && a.ciphers === b.ciphers;
}

/** One listener's socket work, or undefined when the running server already is what `next` asks for. */
function planOne(name: ListenerName, running: RunningListener | undefined, next: PreparedListener, policy: TlsPolicy): ListenerChange | undefined {
  const now = next.settings;
  if (!now.enabled) return running ? { name, action: 'stop', reason: 'disabled' } : undefined;
  if (!running) return { name, action: 'start', reason: 'enabled' };
  const was = running.settings;
  if (was.port !== now.port) return { name, action: 'rebind', reason: `port ${was.port} -> ${now.port}` };
  if (was.host !== now.host) return { name, action: 'rebind', reason: `address ${was.host ?? 'all interfaces'} -> ${now.host ?? 'all interfaces'}` };
  const tls = servesTls(now, next.tls);
  if (servesTls(was, running.tls) !== tls) return { name, action: 'rebind', reason: tls ? 'TLS on' : 'TLS off' };
  // An ACME listener answers tls-alpn-01 challenges: another kind of TLS server.
  if (was.acme !== now.acme) return { name, action: 'rebind', reason: now.acme ? 'certificate from ACME' : 'certificate from files' };
  // HTTP/2 or not is another kind of node server (plain http speaks HTTP/1.1 either way).
  if (next.tls && was.http2 !== now.http2) return { name, action: 'rebind', reason: `http2 ${was.http2} -> ${now.http2}` };
  for (const key of FIXED_LIMITS) {
    if (was.limits[key] !== now.limits[key]) return { name, action: 'rebind', reason: `limits.${key} ${was.limits[key]} -> ${now.limits[key]}` };
  }
  const limitsChanged = JSON.stringify(was.limits) !== JSON.stringify(now.limits);
  // A swap also tunes (listener-set.ts): say so, since both happen in one step.
  const andLimits = limitsChanged ? ', limits' : '';
  if (next.tls && next.tls.digest !== running.tls?.digest) return { name, action: 'swap-tls', reason: `certificate ${next.tls.certificate.serialNumber}${andLimits}` };
  if (next.tls && !samePolicy(running.policy, policy)) return { name, action: 'swap-tls', reason: `TLS protocols or ciphers${andLimits}` };
  if (next.tls && sniKey(running.sni) !== sniKey(next.sni)) return { name, action: 'swap-tls', reason: `SNI certificates${andLimits}` };
  if (limitsChanged) return { name, action: 'tune', reason: 'limits' };
  return undefined;
}

/**
 * The socket work that turns the running listeners into the ones `next` asks for: start, stop,
 * rebind (a new server: port, address, TLS on/off, http2 on a TLS listener, a limit fixed at construction), swap-tls (new
 * certificate or TLS policy into the running server, and its limits tuned), tune (other limits). Compared with what
 * runs, not with the last configuration, so a change that failed to apply is tried again.
 * Everything else (accounts, throttle, log level...) is read from the new snapshot per request.
 */
export function plan(running: Partial<Record<ListenerName, RunningListener>>, next: NextListeners): ListenerChange[] {
  return LISTENER_NAMES.flatMap((name) => {
    const change = planOne(name, running[name], next.listeners[name], next.policy);
    return change ? [change] : [];
  });
}

/**
 * Listeners that serve TLS now and would serve plain http after this reload. A reload never does
 * that (passwords would cross the network in clear because a file went missing for a moment);
 * only a restart can, and then keepd warns.
 */
export function tlsRemovals(running: Partial<Record<ListenerName, RunningListener>>, next: NextListeners): string[] {
  return LISTENER_NAMES.filter((name) => {
    const was = running[name];
    const now = next.listeners[name];
    return was !== undefined && servesTls(was.settings, was.tls) && now.settings.enabled && !servesTls(now.settings, now.tls);
  }).map(
    (name) =>
      `the ${name} listener serves TLS and this configuration has no TLS keys for it; a reload never turns TLS off. Restore TLSFile and TLSType (top level or listeners.${name}), or restart keepd to serve plain http on purpose`,
  );
}
