import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeAcme } from '../src/acme/state-report.js';
import { lockIsStale, LOCK_STALE_MS, type LockHolder } from '../src/acme/lock.js';
import { JITTER_MAX_MS, MIN_RENEWAL_SPACING_MS, RETRY_BASE_MS, RETRY_MAX_MS, renewalAttempt, renewalDue, retryAttempt } from '../src/acme/schedule.js';
import { dnsNames, unusableBecause } from '../src/acme/stored-certificate.js';
import { domainProblem } from '../src/config/acme-schema.js';
import { selectAlpn } from '../src/listeners/acme-alpn.js';
import type { AcmeSettings } from '../src/config/acme-settings.js';
import type { CertificateSummary } from '../src/tls/certificate-summary.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
/** A 90-day certificate issued at T0 (Let's Encrypt's lifetime). */
const NINETY = { validFromMs: T0, validToMs: T0 + 90 * DAY };

describe('renewalDue: renewBeforeDays before expiry, or a third of the lifetime', () => {
  const cases: [string, { validFromMs: number; validToMs: number }, number | undefined, number][] = [
    ['90 days, default: day 60', NINETY, undefined, T0 + 60 * DAY],
    ['90 days, renewBeforeDays 10: day 80', NINETY, 10, T0 + 80 * DAY],
    ['6-day certificate, default: after 4 days', { validFromMs: T0, validToMs: T0 + 6 * DAY }, undefined, T0 + 4 * DAY],
    ['renewBeforeDays over the lifetime: due before it was issued', NINETY, 100, T0 - 10 * DAY],
    ['fractional days', NINETY, 0.5, T0 + 89.5 * DAY],
  ];
  for (const [name, certificate, days, expected] of cases) it(name, () => assert.equal(renewalDue(certificate, days), expected));
});

describe('renewalAttempt: when due plus jitter, at once when overdue, never within an hour of the last success', () => {
  const cases: [string, { now: number; renewBeforeDays?: number; lastSuccessMs?: number; random: number }, number][] = [
    ['not due: the due moment, no jitter at random 0', { now: T0, random: 0 }, T0 + 60 * DAY],
    ['not due: jitter of up to an hour', { now: T0, random: 0.5 }, T0 + 60 * DAY + JITTER_MAX_MS / 2],
    ['overdue: now, without jitter', { now: T0 + 70 * DAY, random: 0.9 }, T0 + 70 * DAY],
    ['overdue after a success a minute ago: an hour after it', { now: T0 + 70 * DAY, lastSuccessMs: T0 + 70 * DAY - 60_000, random: 0 }, T0 + 70 * DAY - 60_000 + MIN_RENEWAL_SPACING_MS],
    ['renewBeforeDays over the lifetime, just renewed: not again for an hour', { now: T0, renewBeforeDays: 1000, lastSuccessMs: T0, random: 0 }, T0 + MIN_RENEWAL_SPACING_MS],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => assert.equal(renewalAttempt({ certificate: NINETY, renewBeforeDays: input.renewBeforeDays, now: input.now, lastSuccessMs: input.lastSuccessMs, random: input.random }), expected));
  }
  it('jitter never reaches past a tenth of the time left after the due moment (short-lived certificates)', () => {
    const sixHours = { validFromMs: T0, validToMs: T0 + 6 * HOUR };
    assert.equal(renewalAttempt({ certificate: sixHours, renewBeforeDays: undefined, now: T0, lastSuccessMs: undefined, random: 1 }), T0 + 4 * HOUR + (2 * HOUR) / 10);
  });
});

describe('retryAttempt: exponential backoff from a minute to six hours, sooner as expiry nears', () => {
  const far = T0 + 60 * DAY;
  const cases: [string, number, number | undefined, number, number][] = [
    ['first failure: a minute', 1, far, 0, T0 + RETRY_BASE_MS],
    ['second: two minutes', 2, far, 0, T0 + 2 * RETRY_BASE_MS],
    ['fifth: sixteen minutes', 5, far, 0, T0 + 16 * RETRY_BASE_MS],
    ['many: capped at six hours', 30, far, 0, T0 + RETRY_MAX_MS],
    ['jitter adds up to 10%', 2, far, 1, T0 + 2.2 * RETRY_BASE_MS],
    ['no certificate yet: backoff alone', 30, undefined, 0, T0 + RETRY_MAX_MS],
    ['expires in 8 hours: within a quarter of that (2 hours)', 30, T0 + 8 * HOUR, 0, T0 + 2 * HOUR],
    ['expired or about to: still no sooner than a minute', 30, T0 + 1000, 0, T0 + RETRY_BASE_MS],
  ];
  for (const [name, failures, validToMs, random, expected] of cases) it(name, () => assert.equal(retryAttempt({ failures, now: T0, validToMs, random }), expected));
});

describe('selectAlpn: acme-tls/1 only for a pending challenge, else the server preference', () => {
  const H2 = ['h2', 'http/1.1'];
  const cases: [string, string[], string[], boolean, string | undefined][] = [
    ['the CA, challenge pending', ['acme-tls/1'], H2, true, 'acme-tls/1'],
    ['the CA, no challenge for that name: refused', ['acme-tls/1'], H2, false, undefined],
    ['a browser during an order: h2', ['h2', 'http/1.1'], H2, true, 'h2'],
    ['server preference: h2 though the client lists http/1.1 first', ['http/1.1', 'h2'], H2, false, 'h2'],
    ['an HTTP/1.1-only listener', ['h2', 'http/1.1'], ['http/1.1'], false, 'http/1.1'],
    ['no common protocol: refused (as Node does)', ['spdy/3'], H2, false, undefined],
  ];
  for (const [name, offered, ours, pending, expected] of cases) it(name, () => assert.equal(selectAlpn(offered, ours, pending), expected));
});

describe('lockIsStale: a lock is taken over when its holder is gone or it is old', () => {
  const STARTED = Date.parse('2026-01-01T12:00:00Z');
  const here = { host: 'a', pid: 1, token: 'mine', startedAtMs: STARTED, alive: (pid: number) => pid === 42 || pid === 1 };
  const holder = (pid: number, host = 'a', since = STARTED + 1000, token?: string): LockHolder => ({ pid, host, since: new Date(since).toISOString(), ...(token === undefined ? {} : { token }) });
  const cases: [string, LockHolder | undefined, number, boolean][] = [
    ['live holder on this machine', holder(42), 1000, false],
    ['dead holder on this machine', holder(7), 1000, true],
    ['holder on another machine: cannot tell, wait', holder(7, 'b'), 1000, false],
    ['holder on another machine, older than the limit', holder(7, 'b'), LOCK_STALE_MS + 1, true],
    ['our pid, from before this process started (pid 1 of a restarted container)', holder(1, 'a', STARTED - 1000, 'earlier'), 1000, true],
    ['our pid, since we started, another token: a neighbour container (same host name, pid 1)', holder(1, 'a', STARTED + 1000, 'theirs'), 1000, false],
    ['our pid and token: ours (never asked while held; stale only by age)', holder(1, 'a', STARTED + 1000, 'mine'), 1000, false],
    ['unreadable (being written): wait', undefined, 1000, false],
    ['unreadable and old', undefined, LOCK_STALE_MS + 1, true],
  ];
  for (const [name, lock, age, expected] of cases) it(name, () => assert.equal(lockIsStale(lock, age, here), expected));
});

describe('domainProblem: names keepd can order', () => {
  const cases: [string, string, RegExp | undefined][] = [
    ['a name', 'keep.example.com', undefined],
    ['a root dot', 'keep.example.com.', undefined],
    ['a wildcard', '*.example.com', /dns-01/],
    ['an IPv4 address', '192.0.2.1', /IP address/],
    ['an IPv6 address', '2001:db8::1', /IP address/],
    ['one label', 'localhost', /DNS name/],
    ['a bad label', 'keep_.example.com', /DNS name/],
    ['a label starting with a hyphen', '-keep.example.com', /DNS name/],
  ];
  for (const [name, domain, expected] of cases) {
    it(name, () => {
      const problem = domainProblem(domain);
      if (expected === undefined) assert.equal(problem, undefined);
      else assert.match(problem ?? '', expected);
    });
  }
});

describe('unusableBecause: a stored certificate serves only the configured names, while valid', () => {
  const certificate = (san: string, from: number, to: number): CertificateSummary => ({ subject: 'CN=a', issuer: 'CN=ca', subjectAltName: san, serialNumber: '01', fingerprint256: '', validFrom: new Date(from).toISOString(), validTo: new Date(to).toISOString(), validToMs: to });
  const good = certificate('DNS:a.example.com, DNS:B.example.com, IP Address:192.0.2.1', T0, T0 + 90 * DAY);
  it('reads the DNS names, lower case', () => assert.deepEqual(dnsNames(good), ['a.example.com', 'b.example.com']));
  const cases: [string, CertificateSummary, string[], RegExp | undefined][] = [
    ['covers the names', good, ['a.example.com', 'b.example.com'], undefined],
    ['covers more than asked', good, ['a.example.com'], undefined],
    ['a name was added', good, ['a.example.com', 'c.example.com'], /not for c\.example\.com/],
    ['expired', certificate('DNS:a.example.com', T0 - 100 * DAY, T0 - DAY), ['a.example.com'], /expired/],
    ['not yet valid', certificate('DNS:a.example.com', T0 + DAY, T0 + 90 * DAY), ['a.example.com'], /not valid before/],
  ];
  for (const [name, cert, domains, expected] of cases) {
    it(name, () => {
      const reason = unusableBecause(cert, domains, T0 + HOUR);
      if (expected === undefined) assert.equal(reason, undefined);
      else assert.match(reason ?? '', expected);
    });
  }
});

describe('describeAcme: what keepd check says, from files only', () => {
  const settings: AcmeSettings = { directory: 'https://ca.example/dir', email: undefined, domains: ['a.example.com'], challenge: 'tls-alpn-01', httpPort: 80, httpHost: undefined, stateDir: '/var/lib/keepd/acme', caFile: undefined, listeners: ['front'], renewBeforeDays: undefined };
  it('before the first order', () => {
    assert.deepEqual(describeAcme(settings, { state: 'none' }, undefined, undefined, T0), [
      'certificate for a.example.com from https://ca.example/dir (tls-alpn-01 on the front listener); state in /var/lib/keepd/acme',
      'account: none yet (registered with the first order)',
      'certificate: none yet; keepd orders one when it starts, and its ACME listeners serve once it has it',
    ]);
  });
  it('http-01, an unusable certificate and a lock', () => {
    const lines = describeAcme({ ...settings, challenge: 'http-01', httpPort: 8080 }, { state: 'unusable', reason: 'it expired' }, { url: 'https://ca.example/acct/1' }, '{"pid":1}', T0);
    assert.match(lines[0] ?? '', /\(http-01 on port 8080\)/);
    assert.equal(lines[1], 'account: https://ca.example/acct/1');
    assert.equal(lines[2], 'certificate: it expired; keepd orders a new one when it starts');
    assert.match(lines[3] ?? '', /^order lock: \{"pid":1\}/);
  });
});
