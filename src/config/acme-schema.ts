import { z } from 'zod';
import { LISTENER_NAMES } from './listener-table.js';

/*
 * The `acme` block (keepd's own; docs/acme.md): certificates from an ACME CA (Let's Encrypt).
 * On when `domains` is not empty. Rules between these keys and the listeners' TLS keys are in
 * acme-settings.ts (acmeProblems).
 */

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';
export const ACME_CHALLENGES = ['tls-alpn-01', 'http-01'] as const;
export type AcmeChallenge = (typeof ACME_CHALLENGES)[number];

const DIRECTORY_EXPECTED = `the https URL of an ACME directory, such as "${LETS_ENCRYPT}"`;
const DOMAIN_EXPECTED = 'a DNS name such as "keep.example.com"';
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Why a name cannot be in a certificate keepd orders, or undefined when it can. */
export function domainProblem(name: string): string | undefined {
  if (name.startsWith('*.')) return 'a wildcard name needs the dns-01 challenge, which keepd does not answer: list each name';
  if (/^[0-9.]+$/.test(name) || name.includes(':')) return 'an IP address: ACME certificates here are for DNS names';
  const labels = name.replace(/\.$/, '').split('.');
  if (name.length > 253 || labels.length < 2 || !labels.every((label) => LABEL.test(label))) return DOMAIN_EXPECTED;
  return undefined;
}

const domain = z
  .string({ error: DOMAIN_EXPECTED })
  .transform((name) => name.toLowerCase())
  .superRefine((name, ctx) => {
    const problem = domainProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const httpsUrl = (expected: string) =>
  z.string({ error: expected }).refine((text) => URL.canParse(text) && new URL(text).protocol === 'https:', { error: expected });

const path = (what: string) => z.string({ error: what }).min(1, { error: what });

const acmeKeys = {
  directory: httpsUrl(DIRECTORY_EXPECTED),
  email: z.string({ error: 'an email address such as "admin@example.com"' }).regex(/^[^\s@]+@[^\s@]+$/, { error: 'an email address such as "admin@example.com"' }).optional(),
  domains: z.array(domain, { error: 'a list of DNS names such as ["keep.example.com"]' }),
  challenge: z.enum(ACME_CHALLENGES, { error: 'one of "tls-alpn-01", "http-01"' }),
  httpPort: z.number({ error: 'a port from 1 to 65535' }).int({ error: 'a port from 1 to 65535' }).min(1, { error: 'a port from 1 to 65535' }).max(65535, { error: 'a port from 1 to 65535' }),
  stateDir: path('the folder for the ACME account key and certificates').optional(),
  caFile: path("the PEM file of the CA that signed the ACME server's own HTTPS certificate").optional(),
  listeners: z.array(z.enum(LISTENER_NAMES, { error: `one of ${LISTENER_NAMES.map((n) => `"${n}"`).join(', ')}` }), { error: 'a list of listener names such as ["front"]' }).optional(),
  renewBeforeDays: z.number({ error: 'a number of days above 0' }).positive({ error: 'a number of days above 0' }).optional(),
};

/** The block is keepd's own (the product has no such keys): an unknown key is a typo, not a product key to keep. */
export const acmeBlock = z.looseObject(acmeKeys, { error: 'an object such as {"domains": ["keep.example.com"], "email": "admin@example.com"}' }).superRefine((block, ctx) => {
  for (const key of Object.keys(block).filter((name) => !Object.hasOwn(acmeKeys, name))) {
    ctx.addIssue({ code: 'custom', path: [key], message: `one of the keys of acme (${Object.keys(acmeKeys).join(', ')}); this one is unknown (a typo?)` });
  }
});
