import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { errorCode } from '../support/errors.js';
import { privateFolder } from './store.js';

/*
 * One process orders at a time for a state folder (several keepd processes, on one machine or
 * sharing a volume): a lock file created exclusively (O_EXCL), naming its holder. A lock whose
 * holder is gone (same machine, no such process) or that is older than LOCK_STALE_MS (an order
 * takes seconds; a crashed holder elsewhere) is taken over.
 */

export const LOCK_STALE_MS = 10 * 60_000;

export interface LockHolder {
  pid: number;
  host: string;
  since: string;
  /** This process's own mark: containers sharing a volume and a host name all run as pid 1. */
  token?: string;
}

/** Who is asking: this process. */
export interface LockAsker {
  host: string;
  pid: number;
  token: string;
  /** When this process started (ms): a lock with its pid but older than that is a predecessor's. */
  startedAtMs: number;
  alive: (pid: number) => boolean;
}

const SELF: LockAsker = { host: hostname(), pid: process.pid, token: randomUUID(), startedAtMs: Date.now() - process.uptime() * 1000, alive };

export type LockAttempt = { held: true; release: () => Promise<void> } | { held: false; holder: LockHolder | undefined };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

async function holderOf(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'pid' in parsed && 'host' in parsed && 'since' in parsed) {
      const { pid, host, since } = parsed;
      const token = 'token' in parsed && typeof parsed.token === 'string' ? parsed.token : undefined;
      if (typeof pid === 'number' && typeof host === 'string' && typeof since === 'string') return token === undefined ? { pid, host, since } : { pid, host, since, token };
    }
  } catch {
    // Being written this very moment, or damaged: judged by its age alone.
  }
  return undefined;
}

/** Whether a lock may be taken over: its holder is dead, or it is older than LOCK_STALE_MS. */
export function lockIsStale(holder: LockHolder | undefined, ageMs: number, here: LockAsker): boolean {
  if (ageMs > LOCK_STALE_MS) return true;
  if (holder === undefined || holder.host !== here.host) return false;
  // Our own pid: an earlier process's (pid 1 in a restarted container) when it predates this one;
  // a later lock with another token is a live neighbour (another container, same host name, pid 1).
  if (holder.pid === here.pid) return holder.token !== here.token && Date.parse(holder.since) < here.startedAtMs;
  return !here.alive(holder.pid);
}

/** Removes the lock only while it is still the one this process wrote (a takeover may have replaced it). */
async function releaseIfOurs(file: string, text: string): Promise<void> {
  const now = await readFile(file, 'utf8').catch(() => undefined);
  if (now === text) await rm(file, { force: true });
}

/**
 * Moves a stale lock aside (one rename: of two processes taking it over, one moves it), and puts
 * it back if what was moved is not the lock judged stale (another process took over meanwhile).
 */
async function takeOver(file: string, stale: LockHolder | undefined): Promise<void> {
  const aside = `${file}.${process.pid}.stale`;
  try {
    await rename(file, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  const moved = await holderOf(aside);
  if (stale !== undefined && JSON.stringify(moved) !== JSON.stringify(stale)) await rename(aside, file).catch(() => undefined);
  else await rm(aside, { force: true });
}

export async function tryLock(file: string, dir: string): Promise<LockAttempt> {
  await privateFolder(dir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      const holder: LockHolder = { pid: SELF.pid, host: SELF.host, since: new Date().toISOString(), token: SELF.token };
      const text = JSON.stringify(holder);
      await handle.writeFile(text);
      await handle.close();
      return { held: true, release: () => releaseIfOurs(file, text) };
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    const holder = await holderOf(file);
    const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (!lockIsStale(holder, age, SELF)) return { held: false, holder };
    await takeOver(file, holder);
  }
  return { held: false, holder: await holderOf(file) };
}
