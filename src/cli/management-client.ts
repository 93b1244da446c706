import { readFile } from 'node:fs/promises';
import { saltPlatformPassword } from '../accounts/platform-secret.js';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { assembleConfig } from '../config/assemble.js';
import type { Environment } from '../config/env-layer.js';
import { isLoopbackAddress, isWildcardAddress } from '../config/addresses.js';
import { resolveListenerSettings } from '../config/listener-settings.js';
import { errorCode } from '../support/errors.js';

export interface ManagementTarget {
  url: URL;
  /** Trusted certificates for https; undefined means the system's. */
  ca: string[] | undefined;
  insecure: boolean;
  /** The name to ask for and verify (an ACME certificate names the domains, reached on localhost). */
  servername?: string;
}

export class ManagementClientError extends Error {}


/**
 * Where the management listener of a configuration answers, as seen from this machine: the
 * configured port and scheme, on localhost when it binds all interfaces or loopback. A pem
 * certificate is trusted as well as the system's roots, so a self-signed first-run one works.
 */
export async function managementTargetFromConfig(configDir: string, env: Environment): Promise<ManagementTarget> {
  const assembled = await assembleConfig(configDir, env, saltPlatformPassword);
  if (!assembled.ok) throw new ManagementClientError(`cannot read the configuration in ${configDir} to find the management listener; give --url`);
  const settings = resolveListenerSettings(assembled.loaded.config, assembled.loaded.configDir).management;
  if (!settings.enabled) throw new ManagementClientError('the management listener is disabled in this configuration');
  if (settings.port === 0) throw new ManagementClientError('the management port is 0 (chosen at start) in this configuration; give --url with the port keepd logged');
  const host = settings.host === undefined || isWildcardAddress(settings.host) || isLoopbackAddress(settings.host) ? 'localhost' : settings.host;
  // An ACME listener serves TLS (never plain http: the password would cross in clear) for acme.domains.
  const scheme = settings.tls || settings.acme ? 'https' : 'http';
  const url = new URL(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${settings.port}`);
  const ca = settings.tls?.pemCert ? [...rootCertificates, await readFile(settings.tls.pemCert, 'utf8')] : undefined;
  const servername = settings.acme ? assembled.loaded.config.acme.domains[0] : undefined;
  return { url, ca, insecure: false, ...(servername === undefined ? {} : { servername }) };
}

export interface ManagementAnswer {
  status: number;
  body: unknown;
}

function describeConnectionError(error: unknown, url: URL): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNREFUSED') return `nothing answers at ${url.origin} (is keepd running? is the port right? give --url)`;
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN') {
    return `cannot verify the certificate of ${url.origin} (${message}); give --cacert with its CA, or --url with the name the certificate is issued for`;
  }
  return `cannot reach ${url.origin}: ${message}`;
}

/** One authenticated JSON request to the management listener. */
export function callManagement(target: ManagementTarget, method: string, route: string, user: string, password: string): Promise<ManagementAnswer> {
  const url = new URL(route, target.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      { method, headers: { authorization, accept: 'application/json' }, ca: target.ca, rejectUnauthorized: !target.insecure, agent: false, timeout: 30_000, ...(target.servername === undefined ? {} : { servername: target.servername }) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (error) => reject(new ManagementClientError(describeConnectionError(error, url))));
    req.end();
  });
}
