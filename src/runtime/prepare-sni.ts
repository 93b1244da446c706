import type { ListenerSettings, SniSource } from '../config/listener-settings.js';
import type { ListenerName } from '../config/listener-table.js';
import { formatPath, type ConfigProblem } from '../config/problems.js';
import type { SniMaterial } from '../listeners/prepared-listener.js';
import { loadTlsMaterial, type TlsMaterial } from '../tls/load-tls-material.js';
import type { TlsPolicy } from '../tls/tls-policy.js';

/** The DNS names of a certificate's subjectAltName (`DNS:a, IP Address:...`), lower case. */
function dnsNames(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
}

/**
 * Every listener's `certificates` (SNI), loaded and validated like its main certificate (each
 * distinct one read once); a problem names `certificates[i]` where it was configured.
 */
export async function prepareSni(
  settings: readonly ListenerSettings[],
  policy: TlsPolicy,
  sourceLabel: (path: (string | number)[]) => string,
  problems: ConfigProblem[],
  warnings: Set<string>,
): Promise<Map<ListenerName, SniMaterial[]>> {
  const loads = new Map<string, ReturnType<typeof loadTlsMaterial>>();
  const load = (source: SniSource): ReturnType<typeof loadTlsMaterial> => {
    const tls = { type: source.type, file: source.file, password: source.password, pemCert: source.pemCert };
    const key = JSON.stringify(tls);
    let pending = loads.get(key);
    if (!pending) loads.set(key, (pending = loadTlsMaterial(tls, policy)));
    return pending;
  };
  const out = new Map<ListenerName, SniMaterial[]>();
  for (const listener of settings) {
    if (!listener.enabled || !listener.tls || listener.sni.length === 0) continue;
    const materials: SniMaterial[] = [];
    for (const [index, source] of listener.sni.entries()) {
      const at = [...listener.tlsKeysAt, 'certificates', index, 'TLSFile'];
      const result = await load(source);
      if (!result.ok) {
        problems.push({ source: sourceLabel(at), path: formatPath(at), message: `TLS of the ${listener.name} listener, certificates[${index}]: ${result.message}` });
        continue;
      }
      const hostnames = source.hostnames ?? dnsNames(result.material.certificate.subjectAltName);
      if (hostnames.length === 0) {
        problems.push({ source: sourceLabel(at), path: formatPath(at), message: `the certificate of certificates[${index}] has no DNS name in its subjectAltName: give it "hostnames"` });
        continue;
      }
      const own = dnsNames(result.material.certificate.subjectAltName);
      for (const name of hostnames.filter((host) => !covers(own, host))) {
        warnings.add(`certificates[${index}] is presented for ${name}, which its certificate (${result.material.certificate.subject}) does not name: clients will refuse it`);
      }
      materials.push({ material: result.material, hostnames });
    }
    out.set(listener.name, materials);
  }
  return out;
}

/** Does a certificate with these DNS names cover `host` (exact, or its `*.` wildcard one label down)? */
function covers(names: readonly string[], host: string): boolean {
  if (names.includes(host)) return true;
  const dot = host.indexOf('.');
  return !host.startsWith('*.') && dot > 0 && names.includes(`*${host.slice(dot)}`);
}

/** What a listener's SNI certificates are, for comparing a running listener with a new configuration. */
export function sniKey(sni: readonly { material: TlsMaterial; hostnames: string[] }[]): string {
  return sni.map((entry) => `${entry.material.digest}=${entry.hostnames.join(',')}`).join(';');
}
