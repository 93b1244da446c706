import { z } from 'zod';
import { SECRET_FORMAT_HINT, SECRET_PATTERN } from '../accounts/secret.js';
import { valueAt, type JsonObject } from './json.js';
import { isSecretPath } from './mask.js';
import { sourcesAt, type SourceTree } from './merge.js';
import { describeFound, formatPath, type ConfigProblem } from './problems.js';

/*
 * Only the keys keepd uses are validated; every other key is kept as it is (looseObject), because
 * real keepconfig.d folders hold hundreds of product keys. Each `error` text completes the sentence
 * "expected ..., found ...".
 */

const PORT_EXPECTED = 'an integer from 0 to 65535 (0 picks a free port)';
const port = z
  .number({ error: PORT_EXPECTED })
  .int({ error: PORT_EXPECTED })
  .min(0, { error: PORT_EXPECTED })
  .max(65535, { error: PORT_EXPECTED });

const nonEmptyString = (what: string) => z.string({ error: what }).min(1, { error: what });

export const REALMS = ['healthcheckAPI', 'managementAPI', 'metricsAPI', 'singleDbModeUsers'] as const;
export type Realm = (typeof REALMS)[number];

const secret = z.string({ error: SECRET_FORMAT_HINT }).regex(SECRET_PATTERN, { error: SECRET_FORMAT_HINT });

const account = z.looseObject(
  {
    active: z.boolean({ error: 'true or false' }),
    CN: z.string({ error: 'a string such as "CN=John Doe/O=Org"' }).optional(),
    secret,
  },
  { error: 'an account object {"active": true, "secret": "HASH:SALT"}' },
);
export type AccountConfig = z.infer<typeof account>;

const realm = z.record(z.string(), account, {
  error: 'an object of accounts, e.g. {"name": {"active": true, "secret": "HASH:SALT"}}',
});

const identity = z.looseObject(
  Object.fromEntries(REALMS.map((name) => [name, realm])) as Record<Realm, typeof realm>,
  { error: 'an object with the sections healthcheckAPI, managementAPI, metricsAPI, singleDbModeUsers' },
);

export const TLS_TYPES = ['pfx', 'jks', 'pem'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const configSchema = z
  .looseObject({
    PORT: port,
    HEALTHCHECKPORT: port,
    MANAGMENTPORT: port,
    METRICSPORT: port,
    HOST: nonEmptyString('an address to bind, such as "127.0.0.1" or "::" (leave it out for all interfaces)').optional(),
    TLSFile: nonEmptyString('the path of the certificate file (pfx/jks) or private key (pem)').optional(),
    TLSPassword: z.string({ error: 'a string ("" when there is no password)' }).optional(),
    TLSType: z.enum(TLS_TYPES, { error: 'one of "pfx", "jks", "pem"' }).optional(),
    PEMCert: nonEmptyString('the path of the PEM certificate chain').optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS, { error: `one of ${LOG_LEVELS.map((l) => `"${l}"`).join(', ')}` }),
    shutdownkey: secret.optional(),
    identity,
  })
  .superRefine((config, ctx) => {
    if (config.TLSType === 'pem' && config.PEMCert === undefined) {
      ctx.addIssue({ code: 'custom', path: ['PEMCert'], params: { setBy: 'TLSType' }, message: 'is required when TLSType is "pem": the path of the certificate chain (TLSFile is the private key)' });
    }
    if (config.TLSFile !== undefined && config.TLSType === undefined) {
      ctx.addIssue({ code: 'custom', path: ['TLSType'], params: { setBy: 'TLSFile' }, message: 'is required when TLSFile is set: "pfx", "jks" or "pem"' });
    }
    if (config.TLSType !== undefined && config.TLSFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['TLSFile'], params: { setBy: 'TLSType' }, message: `is required when TLSType is set: the ${config.TLSType === 'pem' ? 'private key' : 'keystore'} file` });
    }
  });

export type KeepConfig = z.infer<typeof configSchema>;

export type Validation = { ok: true; config: KeepConfig } | { ok: false; problems: ConfigProblem[] };

/** Validates the merged configuration; every problem names the key, the layer that set it, and what was found. */
export function validateConfig(merged: JsonObject, sources: SourceTree): Validation {
  const result = configSchema.safeParse(merged);
  if (result.success) return { ok: true, config: result.data };
  const problems = result.error.issues.map((issue): ConfigProblem => {
    const path = issue.path.filter((step): step is string | number => typeof step !== 'symbol');
    const found = valueAt(merged, path);
    // A missing key that another key requires is reported where that other key was set.
    const setBy: unknown = issue.code === 'custom' ? issue.params?.setBy : undefined;
    const origin = sourcesAt(sources, typeof setBy === 'string' && found === undefined ? [setBy] : path);
    const message =
      issue.code === 'custom' ? issue.message : `expected ${issue.message}, found ${describeFound(found, isSecretPath(path))}`;
    return { source: origin.length > 0 ? origin.join(', ') : 'default', path: formatPath(path), message };
  });
  return { ok: false, problems };
}
