import { Agent, get } from 'node:https';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import acme from 'acme-client';
import type { AcmeSettings } from '../config/acme-settings.js';
import type { AcmeChallenges } from './challenges.js';
import { privateFolder, readAccount, writePrivate, type AcmePaths } from './store.js';

/** A request to the CA that takes longer is a failed attempt (retried later), not a hung order. */
const CA_TIMEOUT_MS = 30_000;

/**
 * The HTTPS client acme-client uses: the CA of a private ACME server's own certificate
 * (acme.caFile) when set, and a deadline on every request (axios has none by default).
 */
async function configureHttp(caFile: string | undefined): Promise<Agent | undefined> {
  acme.axios.defaults.timeout = CA_TIMEOUT_MS;
  // acme-client retries a failed request itself 5 times over 75 s, or for as long as a Retry-After
  // says (hours, when rate limited): keepd's own backoff (schedule.ts) decides when to try again.
  const settings: unknown = Reflect.get(acme.axios.defaults, 'acmeSettings');
  Reflect.set(acme.axios.defaults, 'acmeSettings', { ...(typeof settings === 'object' ? settings : {}), retryMaxAttempts: 0 });
  const agent = caFile === undefined ? undefined : new Agent({ ca: await readFile(caFile, 'utf8') });
  acme.axios.defaults.httpsAgent = agent;
  return agent;
}

/**
 * The directory answers: a CA that is down or untrusted is named as such. acme-client 5.4 turns
 * every failed connection into "Cannot read properties of undefined (reading 'config')".
 */
function reachDirectory(directory: string, agent: Agent | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = get(directory, { agent, timeout: CA_TIMEOUT_MS }, (response) => {
      response.resume();
      if (response.statusCode === 200) resolve();
      else reject(new Error(`the directory answered HTTP ${response.statusCode ?? 0}; check acme.directory`));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${CA_TIMEOUT_MS / 1000} s`)));
    request.on('error', (error: NodeJS.ErrnoException) => {
      const untrusted = /certificate|self.signed/i.test(error.message);
      reject(new Error(untrusted ? `its HTTPS certificate is not trusted (${error.message}); for a private ACME server set acme.caFile to its CA` : `cannot reach it (${error.code ?? error.message})`));
    });
  });
}

/** acme-client's words for a connection that failed mid-order, in keepd's. */
function explainOrderError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return /reading 'config'/.test(message) ? new Error('the connection to the ACME server failed during the order') : error instanceof Error ? error : new Error(message);
}

/** The stored account key and URL, or a new key (saved before use: a crash must not lose the account). */
async function account(paths: AcmePaths): Promise<{ key: string; url: string | undefined }> {
  const stored = await readAccount(paths);
  if (stored) return { key: stored.key, url: stored.account?.url };
  const key = (await acme.crypto.createPrivateEcdsaKey()).toString();
  await writePrivate(paths.accountKey, key);
  return { key, url: undefined };
}

/**
 * One order (RFC 8555 through acme-client): account (stored, or registered now), a new P-256
 * key and CSR for the domains, the chosen challenge answered through `challenges`, the chain.
 * The key and chain are written to the state folder before this resolves.
 */
export async function orderCertificate(settings: AcmeSettings, paths: AcmePaths, challenges: AcmeChallenges): Promise<void> {
  await reachDirectory(settings.directory, await configureHttp(settings.caFile)).catch((error: unknown) => {
    throw new Error(`the ACME server: ${error instanceof Error ? error.message : String(error)}`);
  });
  try {
    await order(settings, paths, challenges);
  } catch (error) {
    throw explainOrderError(error);
  }
}

async function order(settings: AcmeSettings, paths: AcmePaths, challenges: AcmeChallenges): Promise<void> {
  const { key: accountKey, url } = await account(paths);
  const client = new acme.Client({ directoryUrl: settings.directory, accountKey, ...(url === undefined ? {} : { accountUrl: url }) });
  // The first name is the common name; every name, that one too, is in the subjectAltName.
  const [certificateKey, csr] = await acme.crypto.createCsr({ commonName: settings.domains[0] ?? '', altNames: settings.domains }, await acme.crypto.createPrivateEcdsaKey());
  const chain = await client.auto({
    csr,
    ...(settings.email === undefined ? {} : { email: settings.email }),
    // Listing domains under `acme` is the admin's agreement to the CA's terms (docs/acme.md).
    termsOfServiceAgreed: true,
    challengePriority: [settings.challenge],
    // acme-client would first check the answer itself through this machine's DNS, which need not
    // see what the CA sees (split DNS, a load balancer in front): the CA's validation decides.
    skipChallengeVerification: true,
    challengeCreateFn: async (authz, challenge, keyAuthorization) => {
      if (challenge.type === 'http-01') {
        challenges.setHttp(challenge.token, keyAuthorization);
        return;
      }
      // P-256 as the certificate in use: Node adds an SNI context's certificate beside the
      // default one by key type, and TLS 1.3 clients would still get an ECDSA default over an RSA challenge.
      const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, await acme.crypto.createPrivateEcdsaKey());
      challenges.setAlpn(authz.identifier.value, createSecureContext({ key, cert }));
    },
    challengeRemoveFn: (authz, challenge) => {
      if (challenge.type === 'http-01') challenges.deleteHttp(challenge.token);
      else challenges.deleteAlpn(authz.identifier.value);
      return Promise.resolve();
    },
  });
  if (url === undefined) await writePrivate(paths.accountJson, `${JSON.stringify({ url: client.getAccountUrl(), email: settings.email }, null, 2)}\n`);
  await privateFolder(paths.dir);
  await writePrivate(paths.certificate, `${certificateKey.toString().trimEnd()}\n${chain}`);
}
