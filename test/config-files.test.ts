import assert from 'node:assert/strict';
import { saltPlatformPassword } from '../src/accounts/platform-secret.js';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { assembleConfig } from '../src/config/assemble.js';
import { formatProblem } from '../src/config/problems.js';
import { isConfigFileName } from '../src/config/read-config-dir.js';
import { tempDir } from './helpers/temp-dir.js';

async function problemsOf(dir: string, env: Record<string, string> = {}): Promise<string[]> {
  const result = await assembleConfig(dir, env, saltPlatformPassword);
  if (result.ok) assert.fail('the load should fail');
  return result.problems.map(formatProblem);
}

async function loaded(dir: string, env: Record<string, string> = {}) {
  const result = await assembleConfig(dir, env, saltPlatformPassword);
  if (!result.ok) assert.fail(`unexpected problems:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.loaded;
}

describe('reading keepconfig.d', () => {
  it('merges every *.json file in name order, later files winning', async () => {
    const dir = await tempDir({
      'b.json': { PORT: 2000, dance: 'b' },
      'a.json': { PORT: 1000, dance: 'a', only: 'a' },
      'z-last.json': { dance: 'z' },
      'Z.json': { dance: 'capital Z sorts before lower case', upper: true },
    });
    const { config, merged, files, sources } = await loaded(dir);
    assert.deepEqual(files, ['Z.json', 'a.json', 'b.json', 'z-last.json']);
    assert.equal(config.PORT, 2000);
    assert.equal(merged.dance, 'z');
    assert.equal(merged.only, 'a');
    assert.equal(sources.PORT, 'b.json');
    assert.equal(sources.HEALTHCHECKPORT, 'default');
  });

  it('ignores editor leftovers, examples, hidden files and directories', async () => {
    const garbage = '{ this is not json';
    const dir = await tempDir({
      'real.json': { PORT: 1111 },
      '.real.json.swp': garbage,
      'real.json~': garbage,
      '.#real.json': garbage,
      'real.json.example': garbage,
      'real.json.bak': garbage,
      'notes.txt': garbage,
    });
    await mkdir(path.join(dir, 'sub.json'));
    await writeFile(path.join(dir, 'sub.json', 'inner.json'), garbage);
    const { files, config } = await loaded(dir);
    assert.deepEqual(files, ['real.json']);
    assert.equal(config.PORT, 1111);
    for (const name of ['.x.json.swp', 'x.json~', '.#x.json', 'x.json.example', '..data']) assert.equal(isConfigFileName(name), false, name);
  });

  it('follows symlinked files (Kubernetes ConfigMap mounts)', async () => {
    const dir = await tempDir();
    const data = path.join(dir, '..2026_11_26');
    await mkdir(data);
    await writeFile(path.join(data, 'ports.json'), JSON.stringify({ PORT: 4321 }));
    await symlink('..2026_11_26', path.join(dir, '..data'));
    await symlink(path.join('..data', 'ports.json'), path.join(dir, 'ports.json'));
    const { files, config } = await loaded(dir);
    assert.deepEqual(files, ['ports.json']);
    assert.equal(config.PORT, 4321);
  });

  it('accepts a UTF-8 byte-order mark', async () => {
    const dir = await tempDir({ 'notepad.json': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"PORT": 2345}')]) });
    assert.equal((await loaded(dir)).config.PORT, 2345);
  });

  it('names file, line and column of a syntax error', async () => {
    const dir = await tempDir({ 'broken.json': '{\n  "PORT": 8880,\n  "HOST": "x",\n}\n' });
    const [problem, ...more] = await problemsOf(dir);
    assert.equal(more.length, 0);
    assert.match(problem ?? '', /^broken\.json:4:1: invalid JSON: .*trailing comma/);
  });

  it('locates errors after a byte-order mark and in the middle of a line', async () => {
    const dir = await tempDir({ 'x.json': '\uFEFF{"PORT": 8880 "HOST": "a"}' });
    assert.match((await problemsOf(dir))[0] ?? '', /^x\.json:1:15: invalid JSON: expected a comma/);
  });

  it('explains empty files and non-object roots', async () => {
    const cases: Record<string, RegExp> = {
      'empty.json': /^empty\.json: the file is empty/,
      'blank.json': /^blank\.json: the file is empty/,
      'array.json': /^array\.json: the top level must be a JSON object .*found an array/,
      'null.json': /^null\.json: the top level must be a JSON object .*found null/,
      'string.json': /^string\.json: the top level must be a JSON object .*found a string/,
      'number.json': /^number\.json: the top level must be a JSON object .*found a number/,
    };
    const dir = await tempDir({ 'empty.json': '', 'blank.json': '  \n\t', 'array.json': '[{"PORT": 1}]', 'null.json': 'null', 'string.json': '"x"', 'number.json': '42' });
    const problems = await problemsOf(dir);
    assert.equal(problems.length, Object.keys(cases).length);
    for (const pattern of Object.values(cases)) assert.ok(problems.some((p) => pattern.test(p)), `${pattern} in\n${problems.join('\n')}`);
  });

  it('refuses a file that is not UTF-8', async () => {
    const dir = await tempDir({ 'latin1.json': Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]) });
    assert.match((await problemsOf(dir))[0] ?? '', /^latin1\.json: the file is not valid UTF-8/);
  });

  it('reports every broken file of a load together, with schema errors of the good ones', async () => {
    const dir = await tempDir({
      'a.json': '{"PORT": }',
      'b.json': '[]',
      'c.json': { HEALTHCHECKPORT: 'eighty' },
    });
    const problems = await problemsOf(dir);
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems.join('\n'), /a\.json:1:10/);
    assert.match(problems.join('\n'), /b\.json: the top level/);
    assert.match(problems.join('\n'), /c\.json: HEALTHCHECKPORT: expected an integer from 0 to 65535.*found the string "eighty"/);
  });

  it('says when the directory is missing', async () => {
    const dir = await tempDir();
    const problems = await problemsOf(path.join(dir, 'nope'));
    assert.match(problems[0] ?? '', /nope: cannot read the configuration directory: it does not exist/);
  });

  it('says when a file cannot be read (a symlink loop)', async () => {
    const dir = await tempDir();
    await symlink('loop.json', path.join(dir, 'loop.json'));
    assert.match((await problemsOf(dir))[0] ?? '', /^loop\.json: cannot read .*loop\.json/);
  });

  it('says when a file cannot be read (permissions)', { skip: process.getuid?.() === 0 ? 'root reads everything' : false }, async () => {
    const dir = await tempDir({ 'secret.json': '{}' });
    const { chmod } = await import('node:fs/promises');
    await chmod(path.join(dir, 'secret.json'), 0o000);
    assert.match((await problemsOf(dir))[0] ?? '', /secret\.json: cannot read .*permission denied/);
  });
});
