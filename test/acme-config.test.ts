import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acmeProblems, acmeWarnings, defaultStateDir, resolveAcme } from '../src/config/acme-settings.js';
import { LETS_ENCRYPT } from '../src/config/acme-schema.js';
import { builtInDefaults } from '../src/config/defaults.js';
import type { JsonObject } from '../src/config/json.js';
import { resolveListenerSettings } from '../src/config/listener-settings.js';
import { mergeLayers } from '../src/config/merge.js';
import { validateConfig, type KeepConfig } from '../src/config/schema.js';

const merged = (over: JsonObject): JsonObject => mergeLayers([{ source: 'default', data: builtInDefaults() }, { source: 'test.json', data: over }]).config;

function config(over: JsonObject): KeepConfig {
  const validation = validateConfig(merged(over), {});
  if (!validation.ok) throw new Error(validation.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  return validation.config;
}

function problemsOf(over: JsonObject): string[] {
  const validation = validateConfig(merged(over), {});
  return validation.ok ? [] : validation.problems.map((p) => `${p.path}: ${p.message}`);
}

const TLS = { TLSFile: 'k.pem', TLSType: 'pem', PEMCert: 'c.pem' };
const ENV = { HOME: '/home/k' };

/** Which listeners take their certificate from ACME, and the rules' problems and warnings. */
function acmeOf(over: JsonObject) {
  const keep = config(over);
  const listeners = resolveListenerSettings(keep, '/etc/keepd');
  const acme = resolveAcme(keep, '/etc/keepd', Object.values(listeners), ENV);
  return { acme, listeners, problems: acmeProblems(keep, acme, listeners).map((p) => `${p.path.join('.')}: ${p.message}`), warnings: acmeWarnings(acme, listeners, '/etc/keepd') };
}

describe('acme keys: the schema names the key and says what it expects', () => {
  const cases: [string, JsonObject, RegExp][] = [
    ['a plain-http directory', { acme: { directory: 'http://ca.example/dir' } }, /^acme\.directory: expected the https URL of an ACME directory/],
    ['a wildcard domain', { acme: { domains: ['*.example.com'] } }, /^acme\.domains\[0\]: expected a wildcard name needs the dns-01 challenge/],
    ['an unknown challenge', { acme: { challenge: 'dns-01' } }, /^acme\.challenge: expected one of "tls-alpn-01", "http-01"/],
    ['a listener that does not exist', { acme: { listeners: ['admin'] } }, /^acme\.listeners\[0\]: expected one of "data", "health", "management", "metrics", "front"/],
    ['renewBeforeDays 0', { acme: { renewBeforeDays: 0 } }, /^acme\.renewBeforeDays: expected a number of days above 0/],
    ['an email without @', { acme: { email: 'admin' } }, /^acme\.email: expected an email address/],
    ['a typo: keepd\'s own block has no unknown keys', { acme: { chalenge: 'http-01' } }, /^acme\.chalenge: expected one of the keys of acme \(directory, email, domains, challenge, httpPort, stateDir, caFile, listeners, renewBeforeDays\); this one is unknown \(a typo\?\), found the string "http-01"/],
  ];
  for (const [name, over, expected] of cases) it(name, () => assert.match(problemsOf(over).join('\n'), expected));
  it('the defaults: off (no domains), Let\'s Encrypt, tls-alpn-01, port 80', () => {
    const keep = config({});
    assert.deepEqual(keep.acme, { directory: LETS_ENCRYPT, domains: [], challenge: 'tls-alpn-01', httpPort: 80 });
    assert.equal(resolveAcme(keep, '/etc/keepd', [], ENV), undefined);
  });
});

describe('which listeners use ACME', () => {
  const using = (over: JsonObject): string[] => Object.values(acmeOf(over).listeners).filter((l) => l.enabled && l.acme).map((l) => l.name);
  const cases: [string, JsonObject, string[]][] = [
    ['every enabled listener without TLS keys', { acme: { domains: ['a.example.com'] } }, ['data', 'health', 'management', 'metrics']],
    ['none while domains is empty', { acme: { listeners: ['data'] } }, []],
    ['top-level TLS keys: none by default', { ...TLS, acme: { domains: ['a.example.com'] } }, []],
    ['a listener with its own keys keeps them', { acme: { domains: ['a.example.com'] }, listeners: { management: TLS } }, ['data', 'health', 'metrics']],
    ['named: only those, over the top-level keys (mixing is allowed)', { ...TLS, acme: { domains: ['a.example.com'], listeners: ['front'] }, listeners: { front: { enabled: true, routes: [{ to: 'data' }] } } }, ['front']],
  ];
  for (const [name, over, expected] of cases) it(name, () => assert.deepEqual(using(over), expected));
  it('an ACME listener has no TLS files, and its keys are said to come from acme', () => {
    const { listeners } = acmeOf({ ...TLS, acme: { domains: ['a.example.com'], listeners: ['data'] } });
    assert.equal(listeners.data.tls, undefined);
    assert.deepEqual(listeners.data.tlsKeysAt, ['acme']);
    assert.notEqual(listeners.health.tls, undefined);
  });
});

describe('acmeProblems and acmeWarnings', () => {
  const cases: [string, JsonObject, RegExp | undefined, RegExp | undefined][] = [
    ['a named listener with keys of its own', { acme: { domains: ['a.example.com'], listeners: ['management'] }, listeners: { management: TLS } }, /^acme\.listeners\.0: names the management listener, which has TLS keys of its own/, undefined],
    ['listeners named, no domains', { acme: { listeners: ['data'] } }, /^acme\.domains: is empty while acme\.listeners names listeners/, undefined],
    ['domains, but every listener has keys', { ...TLS, acme: { domains: ['a.example.com'] } }, /^acme\.domains: is set, but no enabled listener takes its certificate from ACME/, undefined],
    ['http-01 on a listener\'s port', { PORT: 80, acme: { domains: ['a.example.com'], challenge: 'http-01' } }, /^acme\.httpPort: is 80, the port of the data listener/, undefined],
    ['Let\'s Encrypt, tls-alpn-01, no ACME listener on 443', { acme: { domains: ['a.example.com'], listeners: ['data'] } }, undefined, /validates on port 443, and no ACME listener \(data\) is on port 443/],
    ['Let\'s Encrypt, tls-alpn-01 on the front listener at 443: fine', { acme: { domains: ['a.example.com'], listeners: ['front'] }, listeners: { front: { enabled: true, routes: [{ to: 'data' }] } } }, undefined, undefined],
    ['Let\'s Encrypt, http-01 on 8080', { acme: { domains: ['a.example.com'], challenge: 'http-01', httpPort: 8080 } }, undefined, /validates http-01 on port 80: forward port 80 to 8080/],
    ['a private CA: no port advice', { acme: { directory: 'https://ca.internal/dir', domains: ['a.example.com'], listeners: ['data'] } }, undefined, undefined],
    ['stateDir inside the configuration folder', { acme: { directory: 'https://ca.internal/dir', domains: ['a.example.com'], stateDir: 'acme' } }, undefined, /acme\.stateDir \/etc\/keepd\/acme is inside the configuration folder/],
  ];
  for (const [name, over, problem, warning] of cases) {
    it(name, () => {
      const { problems, warnings } = acmeOf(over);
      if (problem) assert.match(problems.join('\n'), problem);
      else assert.deepEqual(problems, []);
      if (warning) assert.match(warnings.join('\n'), warning);
      else if (!problem) assert.deepEqual(warnings, []);
    });
  }
});

describe('defaultStateDir: outside the configuration folder', () => {
  const cases: [string, NodeJS.ProcessEnv, string][] = [
    ['systemd StateDirectory=', { STATE_DIRECTORY: '/var/lib/keepd', HOME: '/home/k' }, '/var/lib/keepd/acme'],
    ['systemd with several folders: the first', { STATE_DIRECTORY: '/var/lib/keepd:/var/lib/other' }, '/var/lib/keepd/acme'],
    ['XDG_STATE_HOME', { XDG_STATE_HOME: '/x/state', HOME: '/home/k' }, '/x/state/keepd/acme'],
    ['a relative XDG_STATE_HOME is ignored (the spec says so)', { XDG_STATE_HOME: 'state', HOME: '/home/k' }, '/home/k/.local/state/keepd/acme'],
    ['HOME', { HOME: '/home/k' }, '/home/k/.local/state/keepd/acme'],
  ];
  for (const [name, env, expected] of cases) it(name, () => assert.equal(defaultStateDir(env), expected));
});
