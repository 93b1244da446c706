import type { ListenerName } from '../config/listener-table.js';
import type { PreparedListener } from './prepare.js';

export type ListenerAction = 'start' | 'stop' | 'rebind' | 'swap-tls' | 'tune' | 'keep';

export interface ListenerChange {
  name: ListenerName;
  action: ListenerAction;
  reason: string;
}

/**
 * What a reload must do to one listener. A new port, address, TLS on/off or a limit fixed at
 * construction needs a new server; new TLS material (or TLS policy) is swapped into the running
 * one, other limits are tuned on it; anything else is read live, per request.
 */
export function planListenerChange(
  current: PreparedListener,
  next: PreparedListener,
  running: boolean,
  policyChanged: boolean,
): ListenerChange {
  const name = next.settings.name;
  const was = current.settings;
  const now = next.settings;
  if (!now.enabled) return running ? { name, action: 'stop', reason: 'disabled' } : { name, action: 'keep', reason: 'disabled' };
  if (!running) return { name, action: 'start', reason: was.enabled ? 'was down' : 'enabled' };
  if (was.port !== now.port) return { name, action: 'rebind', reason: `port ${was.port} -> ${now.port}` };
  if (was.host !== now.host) return { name, action: 'rebind', reason: `address ${was.host ?? 'all interfaces'} -> ${now.host ?? 'all interfaces'}` };
  if ((current.tls === undefined) !== (next.tls === undefined)) return { name, action: 'rebind', reason: next.tls ? 'TLS on' : 'TLS off' };
  // Fixed when the server is built: a new server it is.
  for (const key of ['maxHeaderBytes', 'maxBodyBytes', 'handshakeTimeoutMs'] as const) {
    if (was.limits[key] !== now.limits[key]) return { name, action: 'rebind', reason: `limits.${key} ${was.limits[key]} -> ${now.limits[key]}` };
  }
  if (next.tls && current.tls && (next.tls.digest !== current.tls.digest || policyChanged)) {
    return { name, action: 'swap-tls', reason: next.tls.digest !== current.tls.digest ? `certificate ${next.tls.certificate.serialNumber}` : 'TLS protocols or ciphers' };
  }
  if (JSON.stringify(was.limits) !== JSON.stringify(now.limits)) return { name, action: 'tune', reason: 'limits' };
  return { name, action: 'keep', reason: 'unchanged' };
}
