import { describeFsError } from '../support/errors.js';
import { MAX_LINK_HOPS, type ReadFailure } from './safe-read.js';

/* How a failed read is worded for an admin: config files here, TLS files in tls/load-tls-material.ts. */

/** 52428800 -> "52,428,800 bytes (50.0 MiB)". */
export function formatSize(bytes: number): string {
  const exact = `${bytes.toLocaleString('en-US')} byte${bytes === 1 ? '' : 's'}`;
  if (bytes >= 1024 * 1024) return `${exact} (${(bytes / 1024 / 1024).toFixed(1)} MiB)`;
  if (bytes >= 1024) return `${exact} (${(bytes / 1024).toFixed(1)} KiB)`;
  return exact;
}

/** 1048576 -> "1 MiB", 2000 -> "2 s": limits as they are set, for messages. */
export function formatLimit(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / 1024 / 1024} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes.toLocaleString('en-US')} bytes`;
}

export function formatSeconds(ms: number): string {
  return `${ms / 1000} s`;
}

/**
 * The default wording of a failure, naming the file as `name` (its path unless given): callers
 * with more to say (why the limit, what to do) add it.
 */
export function describeReadFailure(failure: ReadFailure, name: string = failure.file): string {
  switch (failure.kind) {
    case 'missing':
      return failure.danglingLink
        ? `${name} is a symbolic link to ${failure.danglingLink.missingTarget}, which does not exist: restore the target or remove the link`
        : `${name} does not exist`;
    case 'not-regular':
      return `${name} is a ${failure.type}, not a regular file`;
    case 'too-large':
      return `${name} is ${failure.grew ? 'more than ' : ''}${formatSize(failure.grew ? failure.maxBytes : failure.size)}, over the limit of ${formatLimit(failure.maxBytes)} per file`;
    case 'timeout':
      if (failure.state === 'too-many-stuck' && (failure.stuck ?? []).length === 0) {
        return `${name} was not read within ${formatSeconds(failure.deadlineMs)}: the reads before it were that slow (a hung network mount?)`;
      }
      if (failure.state === 'too-many-stuck') {
        return `${name} was not read: reading ${(failure.stuck ?? []).join(', ')} did not finish within ${formatSeconds(failure.deadlineMs)} (a hung network mount?), and no other read starts until one of them ends`;
      }
      // The same words while the read is still stuck: the problem is the same, and logged once.
      return `reading ${name} did not finish within ${formatSeconds(failure.deadlineMs)} (a hung network mount?)`;
    case 'io':
      if (failure.code === 'ELOOP') return `cannot read ${failure.file}: it is a symbolic link loop (or a chain of more than ${MAX_LINK_HOPS} links)`;
      return `cannot read ${failure.file}: ${describeFsError(failure.cause)}`;
  }
}
