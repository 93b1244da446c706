import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AcmeSettings } from '../config/acme-settings.js';
import { errorCode } from '../support/errors.js';

/*
 * ACME state on disk, under acme.stateDir (0700), one folder per ACME directory so that staging
 * and production never mix:
 *   <stateDir>/<directory>/account.key   the account's private key (0600)
 *   <stateDir>/<directory>/account.json  its URL at the CA, and the email it was registered with
 *   <stateDir>/<directory>/<first domain>/certificate.pem  the certificate's key and chain in one
 *                                          file (0600): one rename replaces both, never a key without its chain
 *   <stateDir>/<directory>/order.lock    held while a process orders (lock.ts)
 * Files are written to a temporary name and renamed: a reader sees the old file or the new one.
 */

export interface AcmePaths {
  dir: string;
  accountKey: string;
  accountJson: string;
  /** The private key, then the chain, in one PEM file. */
  certificate: string;
  lock: string;
}

/** "127.0.0.1_14000-1a2b3c4d": readable, and distinct for every directory URL. */
function directoryFolder(directory: string): string {
  const url = new URL(directory);
  const host = `${url.hostname}${url.port ? `_${url.port}` : ''}`.replace(/[^a-zA-Z0-9._-]/g, '_');
  return `${host}-${createHash('sha256').update(directory).digest('hex').slice(0, 8)}`;
}

export function acmePaths(settings: Pick<AcmeSettings, 'stateDir' | 'directory' | 'domains'>): AcmePaths {
  const dir = path.join(settings.stateDir, directoryFolder(settings.directory));
  const certificate = path.join(dir, settings.domains[0] ?? 'certificate');
  return {
    dir,
    accountKey: path.join(dir, 'account.key'),
    accountJson: path.join(dir, 'account.json'),
    certificate: path.join(certificate, 'certificate.pem'),
    lock: path.join(dir, 'order.lock'),
  };
}

/**
 * Creates a folder (and its parents) for secrets: 0700, and made so if it was wider. One that
 * belongs to another user (made in a shared place beforehand) is refused: they could read the keys.
 */
export async function privateFolder(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const found = await stat(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && found.uid !== uid) throw new Error(`${dir} belongs to user ${found.uid}, not to keepd's (${uid}): choose another acme.stateDir, or chown it`);
  if ((found.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/** Writes a file atomically with `mode` (0600 for keys), its folder private. */
export async function writePrivate(file: string, data: string, mode = 0o600): Promise<void> {
  await privateFolder(path.dirname(file));
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, data, { mode });
  await chmod(temporary, mode);
  await rename(temporary, file);
}

/** A file's text, or undefined when it does not exist. */
export async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

export interface StoredAccount {
  url: string;
  email: string | undefined;
}

export async function readAccount(paths: AcmePaths): Promise<{ key: string; account: StoredAccount | undefined } | undefined> {
  const key = await readIfPresent(paths.accountKey);
  if (key === undefined) return undefined;
  const json = await readIfPresent(paths.accountJson);
  const parsed: unknown = json === undefined ? undefined : JSON.parse(json);
  const account = typeof parsed === 'object' && parsed !== null && 'url' in parsed && typeof parsed.url === 'string' ? { url: parsed.url, email: 'email' in parsed && typeof parsed.email === 'string' ? parsed.email : undefined } : undefined;
  return { key, account };
}
