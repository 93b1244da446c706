import assert from 'node:assert/strict';
import { saltPlatformPassword } from '../src/accounts/platform-secret.js';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { assembleConfig } from '../src/config/assemble.js';
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
    const textMutation = fc.record({ at: fc.nat(), remove: fc.nat({ max: 20 }), insert: fc.string({ maxLength: 10 }) }).map(({ at, remove, insert }) => {
      const position = at % (valid.length + 1);
      return valid.slice(0, position) + insert + valid.slice(position + remove);
    });
    const keys = ['PORT', 'HOST', 'TLSType', 'TLSFile', 'PEMCert', 'TLSPassword', 'identity', 'listeners', 'limits', 'metrics', 'cipher', 'enabledProtocols', 'shutdownkey', 'LOG_LEVEL', 'loginRateLimit', 'watch', '__proto__'];
    const valueMutation = fc.record({ key: fc.constantFrom(...keys), value: fc.jsonValue({ maxDepth: 3 }) }).map(({ key, value }) => {
      const data = JSON.parse(valid) as Record<string, unknown>;
      Object.defineProperty(data, key, { value, enumerable: true, configurable: true, writable: true });
      return JSON.stringify(data);
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(textMutation, valueMutation), async (text) => {
        await writeFile(file, text);
        const assembled = await assembleConfig(dir, {}, saltPlatformPassword);
        const result = assembled.ok ? await prepareConfig(assembled.loaded) : assembled;
        if (result.ok) return true;
        assert.ok(result.problems.length > 0);
        for (const problem of result.problems) {
          const line = formatProblem(problem);
          assert.ok(problem.message.length > 5, line);
          assert.ok(problem.source.length > 0, line);
        }
        // Every problem is traced to where its value came from.
        return result.problems.every((problem) => problem.source.split(', ').every((source) => ['zz-mutated.json', 'ports.json', 'default'].includes(source)));
      }),
      { numRuns: 300 },
    );
  });
});
