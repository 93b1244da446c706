import { displayAccountName } from './account-name.js';
import type { Json } from './json.js';
import { maskCredentialsIn } from './mask.js';
import { hasUrlCredentials } from './url-credentials.js';

/** One thing wrong with a configuration load, phrased for the admin who has to fix it. */
export interface ConfigProblem {
  /** Where the bad value came from: a file name, `env:NAME`, `default`, or the directory itself. */
  source: string;
  /** Key path inside the configuration, when the problem is about one key. */
  path?: string;
  line?: number;
  column?: number;
  message: string;
}

const PLAIN_SEGMENT = /^[A-Za-z_$][\w$-]*$/;

/** `identity.managementAPI["Doctor Notes"].secret`: readable, and unambiguous for names with dots or spaces. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const [index, raw] of path.entries()) {
    // identity.<realm>.<account>: the account name as keepd shows it (see account-name.ts).
    const step = index === 2 && path[0] === 'identity' && typeof raw === 'string' ? displayAccountName(raw) : raw;
    if (typeof step === 'number') out += `[${step}]`;
    else if (PLAIN_SEGMENT.test(step)) out += out === '' ? step : `.${step}`;
    else out += `[${JSON.stringify(step)}]`;
  }
  return out === '' ? '(top level)' : out;
}

export function formatProblem(problem: ConfigProblem): string {
  let where = problem.source;
  if (problem.line !== undefined) where += `:${problem.line}:${problem.column ?? 1}`;
  const key = problem.path === undefined ? '' : `${problem.path}: `;
  return `${where}: ${key}${problem.message}`;
}

const MAX_SHOWN = 60;

/**
 * What was found, for "expected X, found Y". Values under secret keys are described by
 * shape only, so that a typo in a secret or password never ends up in a terminal or a log.
 */
export function describeFound(value: Json | undefined, secret: boolean): string {
  if (value === undefined) return 'nothing (the key is missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length} item(s)`;
  if (typeof value === 'object') return 'an object';
  if (secret) {
    return typeof value === 'string' ? `a string of ${value.length} character(s) (not shown: secret)` : `a ${typeof value} (not shown: secret)`;
  }
  if (typeof value === 'string') {
    // A credential pasted into the wrong key (`"PORT": "Basic ..."`) is not echoed either.
    if (maskCredentialsIn(value) !== value || hasUrlCredentials(value)) return `a string of ${value.length} character(s) that looks like a credential (not shown)`;
    const shown = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value;
    return `the string ${JSON.stringify(shown)}`;
  }
  return `${typeof value} ${JSON.stringify(value)}`;
}
