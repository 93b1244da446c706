import assert from 'node:assert/strict';
import { saltPlatformPassword } from '../src/accounts/platform-secret.js';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { assembleConfig } from '../src/config/assemble.js';
import { isSecretPath } from '../src/config/mask.js';
import { formatProblem } from '../src/config/problems.js';
import { prepareConfig } from '../src/runtime/prepare.js';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { rawRequest, requestWithHeader } from './helpers/raw-request.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const ACCEPTABLE = new Set([400, 401, 429, 431]);

describe('malformed Authorization headers', () => {
  let keepd: KeepdProcess;
  let port: number;
  before(async () => {
    keepd = await startKeepd(await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem }));
    port = keepd.ports.health ?? 0;
  });
  after(() => keepd.stop());

  const send = async (value: Buffer): Promise<number | undefined> =>
    (await rawRequest(port, requestWithHeader('/health', Buffer.concat([Buffer.from('Authorization: '), value])))).status;

  it('the classic mistakes get 400 or 401, never 500', async () => {
    const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
    const cases: Record<string, Buffer> = {
      'missing scheme': Buffer.from(b64('probe:probe-pw-1')),
      'other scheme': Buffer.from(`Bearer ${b64('probe:probe-pw-1')}`),
      'bad base64': Buffer.from('Basic !!!not-base64!!!'),
      'no colon': Buffer.from(`Basic ${b64('probe')}`),
      'empty user': Buffer.from(`Basic ${b64(':probe-pw-1')}`),
      'empty everything': Buffer.from('Basic '),
      'control characters': Buffer.from(`Basic ${b64('pro\u0000be:pw\u0007')}`),
      '8 KB of junk': Buffer.from(`Basic ${'A'.repeat(8192)}`),
      'non-UTF-8 credentials': Buffer.from(`Basic ${b64(Buffer.from([0xff, 0xfe, 0x3a, 0xc3, 0x28]))}`),
      'non-UTF-8 header bytes': Buffer.concat([Buffer.from('Basic '), Buffer.from([0xff, 0xc3, 0x28, 0x80])]),
      'scheme only': Buffer.from('Basic'),
      'double space': Buffer.from(`Basic  ${b64('probe:probe-pw-1')}`),
    };
    for (const [name, value] of Object.entries(cases)) {
      const status = await send(value);
      assert.ok(status !== undefined && ACCEPTABLE.has(status), `${name}: ${String(status)}`);
    }
  });

  it('arbitrary header values never get a 5xx or crash keepd (property)', async () => {
    const headerBytes = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0d && b !== 0x0a)));
    const basicOfBytes = fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(`Basic ${Buffer.from(bytes).toString('base64')}`));
    const basicOfText = fc.string({ unit: 'binary', maxLength: 100 }).map((text) => Buffer.from(`Basic ${Buffer.from(text, 'utf8').toString('base64')}`));
    const junk = fc.string({ maxLength: 9000 }).map((text) => Buffer.from(`Basic ${text.replace(/[\r\n]/g, '')}`));
    await fc.assert(
      fc.asyncProperty(fc.oneof(headerBytes, basicOfBytes, basicOfText, junk), async (value) => {
        const status = await send(value);
        return status !== undefined && ACCEPTABLE.has(status);
      }),
      { numRuns: 150 },
    );
    assert.equal((await request(`https://127.0.0.1:${port}/health`, { auth: [...USERS.health] })).status, 200, 'still serving');
    assert.ok(!keepd.logs.some((line) => line.level >= 50), 'no error logged');
  });
});

describe('mutated configuration files', () => {
  it('always give a clear error naming the file, or a valid configuration; never a crash (property)', async () => {
    const dir = await tempDir({ 'ports.json': TEST_BASE });
    const valid = JSON.stringify({ ...(await functionalUsers()), ...TLS_CONFIGS.pem, PORT: 8880, listeners: { management: { HOST: '127.0.0.1' } }, limits: { maxConnections: 10 } }, null, 2);
    const file = path.join(dir, 'zz-mutated.json');
    // The salted secrets of the file: no message may show one, nor any piece of one.
    const salted = (valid.match(/[0-9A-F]{64}:[0-9A-F]{128}/g) ?? []).flatMap((secret) => secret.split(':'));
    assert.ok(salted.length >= 8);
    const textMutation = fc.record({ at: fc.nat(), remove: fc.nat({ max: 20 }), insert: fc.string({ maxLength: 10 }) }).map(({ at, remove, insert }) => {
      const position = at % (valid.length + 1);
      return { text: valid.slice(0, position) + insert + valid.slice(position + remove), secrets: [] as string[] };
    });
    const keys = ['PORT', 'HOST', 'TLSType', 'TLSFile', 'PEMCert', 'TLSPassword', 'identity', 'listeners', 'limits', 'metrics', 'cipher', 'enabledProtocols', 'shutdownkey', 'LOG_LEVEL', 'loginRateLimit', 'watch', '__proto__'];
    const valueMutation = fc.record({ key: fc.constantFrom(...keys), value: fc.jsonValue({ maxDepth: 3 }) }).map(({ key, value }) => {
      const data = JSON.parse(valid) as Record<string, unknown>;
      Object.defineProperty(data, key, { value, enumerable: true, configurable: true, writable: true });
      return { text: JSON.stringify(data), secrets: secretStrings(value, [key]) };
    });
    const sourceOk = (part: string): boolean => ['zz-mutated.json', 'ports.json', 'default'].includes(part) || /^env:[A-Z_]+$/.test(part);
    await fc.assert(
      fc.asyncProperty(fc.oneof(textMutation, valueMutation), async ({ text, secrets }) => {
        await writeFile(file, text);
        const assembled = await assembleConfig(dir, {}, saltPlatformPassword);
        const result = assembled.ok ? await prepareConfig(assembled.loaded) : assembled;
        if (result.ok) return;
        assert.ok(result.problems.length > 0);
        const lines = result.problems.map(formatProblem);
        for (const [index, problem] of result.problems.entries()) {
          const line = lines[index] ?? '';
          assert.ok(problem.message.length > 5, line);
          // Traced to where its value came from: the files written, the defaults, or the environment.
          const sources = problem.source.split(', ');
          assert.ok(sources.every(sourceOk), `unknown source: ${line}`);
          assert.ok(problem.line === undefined || sources.includes('zz-mutated.json'), `a position in a file that was not changed: ${line}`);
          // One line for the admin: no stack trace, no internals.
          assert.doesNotMatch(line, /\n\s*at |\bat .*\(?(file:|node:|\/).*:\d+:\d+\)?|node:internal/, line);
          // No secret of the file, nor a piece of one, and no string put under a secret key.
          for (const hex of line.match(/[0-9A-Fa-f]{16,}/g) ?? []) assert.ok(!salted.some((secret) => secret.includes(hex.toUpperCase())), `a salted secret leaked: ${line}`);
          for (const secret of secrets) assert.ok(!problem.message.includes(secret), `the secret ${JSON.stringify(secret)} leaked: ${line}`);
        }
        // The configuration was valid before the mutation: what made it invalid is in that file.
        const namesFile = result.problems.some((problem) => problem.source.split(', ').includes('zz-mutated.json'));
        assert.ok(namesFile, `the mutated file is not named:\n${lines.join('\n')}`);
      }),
      { numRuns: 300 },
    );
  });

  it('names the file that put an object without leaves where a value belongs', async () => {
    const dir = await tempDir({ 'ports.json': TEST_BASE, 'zz.json': { PORT: {}, HOST: { a: {} }, limits: { maxConnections: {} } } });
    const result = await assembleConfig(dir, {}, saltPlatformPassword);
    assert.deepEqual(result.ok ? [] : result.problems.map((problem) => [problem.source, problem.path]), [
      ['zz.json', 'PORT'],
      ['zz.json', 'HOST'],
      ['zz.json', 'limits.maxConnections'],
    ]);
  });
});


/** The strings a value puts at secret paths (isSecretPath: passwords, keys, everything under identity). */
function secretStrings(value: unknown, at: (string | number)[]): string[] {
  if (typeof value === 'string') return isSecretPath(at) && value.length >= 8 ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((item: unknown, index) => secretStrings(item, [...at, index]));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([key, child]) => secretStrings(child, [...at, key]));
  return [];
}
