import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { MAX_NESTING_DEPTH, MAX_VALUES_PER_FILE, scanStructure } from '../src/config/json-structure.js';
import { MAX_DUPLICATES_REPORTED, parseConfigText } from '../src/config/parse-config-text.js';
import { formatProblem } from '../src/config/problems.js';
import { CONFIG_READ_DEADLINE_MS, MAX_CONFIG_FILE_BYTES, MAX_CONFIG_FILES, MAX_TOTAL_VALUES, readConfigDir } from '../src/config/read-config-dir.js';
import { describeReadFailure } from '../src/config/read-failure.js';
import { MAX_STUCK_OPERATIONS, readRegularFile, SafeReader, type FileSystemCalls, type ReadResult } from '../src/config/safe-read.js';
import { eventually } from './helpers/eventually.js';
import { request } from './helpers/http-client.js';
import { failedStart, startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { CLI } from './helpers/paths.js';
import { tempDir } from './helpers/temp-dir.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';

/*
 * Configuration files that are hostile by accident (or not): dangling links, huge or deeply nested
 * files, FIFOs, duplicate keys. The pure parts as tables; then the real daemon on real files.
 */

const execFileAsync = promisify(execFile);

/** The problems of one file's text, formatted as `keepd check` prints them. */
function problemsOf(text: string, limits?: { maxDepth: number; maxValues: number }): string[] {
  const parsed = parseConfigText(text, 'x.json', limits);
  return parsed.ok ? [] : parsed.problems.map(formatProblem);
}

/** `{"x":[[...]]}`: `depth` levels in all, the top-level object included. */
const nestedArrays = (depth: number): string => `{"x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
const nestedObjects = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('nesting limit (parse table)', () => {
  const cases: { name: string; text: string; expect: RegExp | 'ok' }[] = [
    { name: 'arrays at the limit', text: nestedArrays(MAX_NESTING_DEPTH), expect: 'ok' },
    { name: 'objects at the limit', text: nestedObjects(MAX_NESTING_DEPTH), expect: 'ok' },
    // `{"x":` is 5 characters: level n (n >= 2) opens at column n + 4.
    { name: 'arrays one level deeper', text: nestedArrays(MAX_NESTING_DEPTH + 1), expect: new RegExp(`^x\\.json:1:${MAX_NESTING_DEPTH + 5}: nested more than ${MAX_NESTING_DEPTH} levels deep here`) },
    // `{"a":` is 5 characters: level n opens at column 5(n - 1) + 1.
    { name: 'objects one level deeper', text: nestedObjects(MAX_NESTING_DEPTH + 1), expect: new RegExp(`^x\\.json:1:${5 * MAX_NESTING_DEPTH + 1}: nested more than`) },
    { name: '2000 levels (used to exhaust the stack)', text: `{\n  "x":\n${'['.repeat(2000)}${']'.repeat(2000)}}`, expect: /^x\.json:3:64: nested more than 64 levels deep here/ },
    { name: '2000 levels, never closed (the syntax error locator is recursive too)', text: `{"x":${'{"a":'.repeat(2000)}`, expect: /^x\.json:1:\d+: nested more than/ },
    { name: 'brackets inside strings do not count', text: `{"x":"${'['.repeat(500)}", "y": "\\"${'{'.repeat(500)}"}`, expect: 'ok' },
    { name: 'after a byte-order mark, columns count from the first character after it', text: `\uFEFF${nestedArrays(MAX_NESTING_DEPTH + 1)}`, expect: new RegExp(`^x\\.json:1:${MAX_NESTING_DEPTH + 5}:`) },
  ];
  for (const { name, text, expect } of cases) {
    it(name, () => {
      const problems = problemsOf(text);
      if (expect === 'ok') assert.deepEqual(problems, []);
      else {
        assert.equal(problems.length, 1, problems.join('\n'));
        assert.match(problems[0] ?? '', expect);
      }
    });
  }
});

describe('value count (parse table)', () => {
  const counts: [string, number][] = [
    ['{}', 1],
    ['{"a":1}', 2],
    ['{"a":[]}', 2],
    ['{"a":{}}', 2],
    ['{"a":[1,2,3]}', 5],
    ['{"a":[[],[1],{}]}', 6],
    ['{ "a" : [ 1 , "x,y" ] , "b" : { "c" : null } }', 6],
    ['{"a,b":"c,d","e":"[{"}', 3],
  ];
  for (const [text, values] of counts) {
    it(`${text} holds ${values} value(s)`, () => {
      assert.doesNotThrow(() => JSON.parse(text));
      assert.equal(scanStructure(text).values, values);
    });
  }

  it('a file over the value limit is refused where the limit is crossed', () => {
    const problems = problemsOf('{"a": 1,\n "b": [1, 2, 3]}', { maxDepth: 64, maxValues: 4 });
    assert.deepEqual(problems, ['x.json:2:12: more than 4 values (keys and array items) by here, the limit per file (keepd\'s own settings are a few hundred; an account takes 4): is this a keepd configuration file?']);
    assert.deepEqual(problemsOf('{"a": 1,\n "b": [1, 2, 3]}', { maxDepth: 64, maxValues: 6 }), []);
    assert.match(problemsOf('{"a": 1,\n "b": [1, 2, 3]}', { maxDepth: 64, maxValues: 5 })[0] ?? '', /^x\.json:2:15: more than 5 values/);
  });

  it('a 1 MiB file of tiny keys (120,000 of them) is refused by the value limit, not loaded', () => {
    const keys = Array.from({ length: 120_000 }, (_, i) => `"${i.toString(36)}":0`).join(',');
    const problems = problemsOf(`{"x":{${keys}}}`);
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', new RegExp(`^x\\.json:1:\\d+: more than ${MAX_VALUES_PER_FILE.toLocaleString('en-US')} values`));
  });

  it('a file of 4,000 accounts (about 1 MiB) is within the value limit', () => {
    const secret = `${'A'.repeat(64)}:${'B'.repeat(128)}`;
    const accounts = Array.from({ length: 4000 }, (_, i) => `"user ${i}": {"active": true, "secret": "${secret}"}`).join(',\n');
    const text = `{"identity": {"managementAPI": {\n${accounts}\n}}}`;
    assert.ok(Buffer.byteLength(text) <= MAX_CONFIG_FILE_BYTES, `${Buffer.byteLength(text)} bytes`);
    assert.deepEqual(problemsOf(text), []);
  });
});

describe('duplicate keys (parse table)', () => {
  const cases: { name: string; text: string; expect: string[] }[] = [
    {
      name: 'two top-level identity blocks: the first would vanish',
      text: '{\n  "PORT": 8880,\n  "identity": {\n    "managementAPI": {}\n  },\n  "HOST": "127.0.0.1",\n  "identity": {\n    "metricsAPI": {}\n  }\n}',
      expect: ['x.json:7:3: identity: appears twice in this file (lines 3 and 7): merge the two blocks (JSON keeps only the last one; the first would be ignored)'],
    },
    { name: 'a scalar twice', text: '{"PORT": 1,\n"PORT": 2}', expect: ['x.json:2:1: PORT: appears twice in this file (lines 1 and 2): keep only one (JSON keeps only the last one; the first would be ignored)'] },
    { name: 'on one line: line:column of each', text: '{"PORT": 1, "PORT": 2}', expect: ['x.json:1:13: PORT: appears twice in this file (at 1:2 and 1:13): keep only one (JSON keeps only the last one; the first would be ignored)'] },
    { name: 'three times', text: '{"a":{},\n"a":{},\n"a":{}}', expect: ['x.json:2:1: a: appears 3 times in this file (lines 1, 2 and 3): merge the 3 blocks (JSON keeps only the last one; the earlier ones would be ignored)'] },
    { name: 'deep inside, named by its path', text: '{"listeners": {"health": {"HOST": "a",\n"HOST": "b"}}}', expect: ['x.json:2:1: listeners.health.HOST: appears twice in this file (lines 1 and 2): keep only one (JSON keeps only the last one; the first would be ignored)'] },
    { name: 'inside an array element', text: '{"x": [{"a": 1}, {"a": 1,\n"a": 2}]}', expect: ['x.json:2:1: x[1].a: appears twice in this file (lines 1 and 2): keep only one (JSON keeps only the last one; the first would be ignored)'] },
    { name: 'account names with spaces', text: '{"identity": {"managementAPI": {"Doctor Notes": {},\n"Doctor Notes": {}}}}', expect: ['x.json:2:1: identity.managementAPI["Doctor Notes"]: appears twice in this file (lines 1 and 2): merge the two blocks (JSON keeps only the last one; the first would be ignored)'] },
    { name: 'the same key spelled with an escape', text: '{"PORT": 1,\n"PO\\u0052T": 2}', expect: ['x.json:2:1: PORT: appears twice in this file (lines 1 and 2): keep only one (JSON keeps only the last one; the first would be ignored)'] },
    { name: '__proto__ is a key like any other', text: '{"__proto__": {},\n"__proto__": {}}', expect: ['x.json:2:1: __proto__: appears twice in this file (lines 1 and 2): merge the two blocks (JSON keeps only the last one; the first would be ignored)'] },
    { name: 'an object and a scalar under one key', text: '{"a": {},\n"a": 1}', expect: ['x.json:2:1: a: appears twice in this file (lines 1 and 2): keep only one (JSON keeps only the last one; the first would be ignored)'] },
    { name: 'after a byte-order mark', text: '\uFEFF{"a": 1,\n  "a": 2}', expect: ['x.json:2:3: a: appears twice in this file (lines 1 and 2): keep only one (JSON keeps only the last one; the first would be ignored)'] },
    { name: 'the same key in two sibling objects is fine', text: '{"a": {"x": 1}, "b": {"x": 1}, "c": [{"x": 1}, {"x": 2}]}', expect: [] },
    { name: 'a string value equal to a key is fine', text: '{"a": "a", "b": ["a", "b"], "c": {"a": "b"}}', expect: [] },
    { name: 'keys differing only in case are different keys', text: '{"port": 1, "PORT": 2}', expect: [] },
    { name: 'broken JSON gets its syntax error, not duplicate guesses', text: '{"a": 1 "a": 2}', expect: ['x.json:1:9: invalid JSON: expected a comma between entries'] },
  ];
  for (const { name, text, expect } of cases) {
    it(name, () => {
      assert.deepEqual(problemsOf(text), expect);
    });
  }

  it(`reports the first ${MAX_DUPLICATES_REPORTED} one by one and counts the rest`, () => {
    const keys = Array.from({ length: 25 }, (_, i) => `"k${i}": 1,\n"k${i}": 2`).join(',\n');
    const problems = problemsOf(`{${keys}}`);
    assert.equal(problems.length, MAX_DUPLICATES_REPORTED + 1);
    assert.match(problems[0] ?? '', /^x\.json:2:1: k0: appears twice/);
    assert.equal(problems[MAX_DUPLICATES_REPORTED], `x.json: and ${25 - MAX_DUPLICATES_REPORTED} more key(s) that appear more than once in one object of this file`);
  });

  it('a large file with one duplicate at the end is found (one pass, no quadratic work)', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `"${i.toString(36)}": 0`).join(',\n');
    const problems = problemsOf(`{${keys},\n"0": 1}`);
    assert.deepEqual(problems, ['x.json:20001:1: ["0"]: appears twice in this file (lines 1 and 20001): keep only one (JSON keeps only the last one; the first would be ignored)']);
  });
});

describe('existing file rules still hold (parse)', () => {
  it('a byte-order mark is accepted; syntax errors are located; a non-object root is refused', () => {
    assert.deepEqual(parseConfigText('\uFEFF{"PORT": 1}', 'x.json'), { ok: true, data: { PORT: 1 }, values: 2 });
    assert.deepEqual(problemsOf('{\n  "PORT": 8880,\n}\n'), ['x.json:3:1: invalid JSON: expected a key in double quotes (is there a trailing comma?)']);
    assert.match(problemsOf('{"a": [1, 2')[0] ?? '', /^x\.json:1:12: invalid JSON: the file ends too early/);
    assert.match(problemsOf('[1]')[0] ?? '', /top level must be a JSON object/);
  });

  it('a syntax error at the end of a 1 MiB file is located', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `"${i.toString(36)}": "${'x'.repeat(40)}"`).join(',\n');
    assert.deepEqual(problemsOf(`{${keys},\n}`), ['x.json:20001:1: invalid JSON: expected a key in double quotes (is there a trailing comma?)']);
  });
});

/** A file system whose stat never answers for some paths until released: a hung mount, on demand. */
function hangingFileSystem(): { fs: FileSystemCalls; hang: (file: string) => void; release: () => void; statCalls: string[] } {
  const hung = new Set<string>();
  const waiting: (() => void)[] = [];
  const statCalls: string[] = [];
  const fs: FileSystemCalls = {
    stat: (file) => {
      statCalls.push(file);
      if (!hung.has(file)) return stat(file);
      return new Promise<Stats>((resolve, reject) => waiting.push(() => void stat(file).then(resolve, reject)));
    },
    lstat: (file) => lstat(file),
    readlink: (file) => readlink(file),
    open: (file, flags) => open(file, flags),
    readdir: (directory) => readdir(directory),
  };
  return {
    fs,
    hang: (file) => hung.add(file),
    release: () => {
      hung.clear();
      for (const resume of waiting.splice(0)) resume();
    },
    statCalls,
  };
}

function failureOf(result: ReadResult): Exclude<ReadResult, { ok: true }>['failure'] {
  if (result.ok) assert.fail('the read should fail');
  return result.failure;
}

const LIMITS = { maxBytes: 64, deadlineMs: 2000 };

describe('what one load reads, all files together', () => {
  it('more files than one load reads: one problem naming the directory, nothing read', async () => {
    const dir = await tempDir(Object.fromEntries(Array.from({ length: MAX_CONFIG_FILES + 1 }, (_, i) => [`f${String(i).padStart(3, '0')}.json`, {}])));
    const read = await readConfigDir(dir);
    assert.deepEqual([read.layers.length, read.problems.length], [0, 1]);
    assert.match(read.problems[0]?.message ?? '', new RegExp(`holds ${MAX_CONFIG_FILES + 1} \\*\\.json files, more than the ${MAX_CONFIG_FILES} one load reads`));
  });

  it('files each within the limits, too many values together: refused at the file that crosses the total', async () => {
    const file = { many: Object.fromEntries(Array.from({ length: MAX_VALUES_PER_FILE - 10 }, (_, i) => [`k${i}`, i])) };
    const count = Math.ceil(MAX_TOTAL_VALUES / (MAX_VALUES_PER_FILE - 10)) + 1;
    const dir = await tempDir(Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${i}.json`, file])));
    const read = await readConfigDir(dir);
    assert.equal(read.problems.length, 1);
    assert.match(formatProblem(read.problems[0] ?? { source: '', message: '' }), new RegExp(`^f${count - 2}\\.json: with this file the configuration holds [\\d,]+ values \\(the limit is 100,000\\)`));
  });
});

describe('readRegularFile (real files)', () => {
  it('reads a regular file, an empty one, one of exactly maxBytes, and a symlink to one', async () => {
    const dir = await tempDir({ 'a.json': '{"a":1}', 'empty.json': '', 'full.json': 'x'.repeat(LIMITS.maxBytes) });
    await symlink('a.json', path.join(dir, 'link.json'));
    for (const [name, length] of [['a.json', 7], ['empty.json', 0], ['full.json', LIMITS.maxBytes], ['link.json', 7]] as const) {
      const result = await readRegularFile(path.join(dir, name), LIMITS);
      assert.ok(result.ok, name);
      assert.equal(result.bytes.length, length, name);
    }
  });

  it('reads a regular file whose stat says 0 bytes (procfs) to its end', { skip: process.platform !== 'linux' }, async () => {
    const result = await readRegularFile('/proc/self/status', { maxBytes: 1 << 20, deadlineMs: 2000 });
    assert.ok(result.ok);
    assert.match(result.bytes.toString('utf8'), /^Name:/);
  });

  it('refuses a file over the limit before reading, naming its size and the limit', async () => {
    const dir = await tempDir({ 'big.json': 'x'.repeat(LIMITS.maxBytes + 1) });
    const failure = failureOf(await readRegularFile(path.join(dir, 'big.json'), LIMITS));
    assert.deepEqual(failure, { kind: 'too-large', file: path.join(dir, 'big.json'), size: 65, maxBytes: 64 });
    assert.equal(describeReadFailure(failure, 'big.json'), 'big.json is 65 bytes, over the limit of 64 bytes per file');
    const huge = { kind: 'too-large', file: 'x', size: 52_428_800, maxBytes: MAX_CONFIG_FILE_BYTES } as const;
    assert.equal(describeReadFailure(huge, 'x.json'), 'x.json is 52,428,800 bytes (50.0 MiB), over the limit of 1 MiB per file');
  });

  it('never opens what is not a regular file: FIFO, directory, device, socket', async () => {
    const dir = await tempDir();
    const fifo = path.join(dir, 'x.json');
    await execFileAsync('mkfifo', [fifo]);
    const socketPath = path.join(dir, 'sock.json');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    await mkdir(path.join(dir, 'sub.json'));
    try {
      const expected: [string, string][] = [
        [fifo, 'FIFO (named pipe)'],
        [path.join(dir, 'sub.json'), 'directory'],
        ['/dev/null', 'character device'],
        [socketPath, 'socket'],
      ];
      for (const [file, type] of expected) {
        assert.deepEqual(failureOf(await readRegularFile(file, LIMITS)), { kind: 'not-regular', file, type });
      }
      assert.equal(describeReadFailure(failureOf(await readRegularFile(fifo, LIMITS)), 'x.json'), 'x.json is a FIFO (named pipe), not a regular file');
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await removeFifo(fifo);
    }
  });

  it('tells a deleted file from a dangling link, and names the missing target along a chain', async () => {
    const dir = await tempDir({ 'target.json': '{}' });
    await symlink('/nonexistent/keepd/x.json', path.join(dir, 'absolute.json'));
    await symlink('middle.json', path.join(dir, 'chain.json'));
    await symlink('gone.json', path.join(dir, 'middle.json'));
    assert.deepEqual(failureOf(await readRegularFile(path.join(dir, 'never-there.json'), LIMITS)), { kind: 'missing', file: path.join(dir, 'never-there.json') });
    const absolute = failureOf(await readRegularFile(path.join(dir, 'absolute.json'), LIMITS));
    assert.deepEqual(absolute, { kind: 'missing', file: path.join(dir, 'absolute.json'), danglingLink: { missingTarget: '/nonexistent/keepd/x.json' } });
    assert.equal(describeReadFailure(absolute, 'absolute.json'), 'absolute.json is a symbolic link to /nonexistent/keepd/x.json, which does not exist: restore the target or remove the link');
    assert.deepEqual(failureOf(await readRegularFile(path.join(dir, 'chain.json'), LIMITS)), {
      kind: 'missing',
      file: path.join(dir, 'chain.json'),
      danglingLink: { missingTarget: path.join(dir, 'gone.json') },
    });
  });

  it('says what a symlink loop is', async () => {
    const dir = await tempDir();
    await symlink('loop.json', path.join(dir, 'loop.json'));
    const failure = failureOf(await readRegularFile(path.join(dir, 'loop.json'), LIMITS));
    assert.equal(failure.kind === 'io' ? failure.code : failure.kind, 'ELOOP');
    assert.match(describeReadFailure(failure, 'loop.json'), /^cannot read .*loop\.json: it is a symbolic link loop/);
  });
});

describe('readRegularFile deadline (a hung mount, simulated)', () => {
  const deadline = { maxBytes: 1024, deadlineMs: 50 };

  it('a read that misses its deadline is a problem; while it is stuck, the same answer comes at once and no new read starts', async () => {
    const dir = await tempDir({ 'x.json': '{}', 'y.json': '{}' });
    const [x, y] = [path.join(dir, 'x.json'), path.join(dir, 'y.json')];
    const { fs, hang, release, statCalls } = hangingFileSystem();
    const reader = new SafeReader(fs);
    hang(x);
    const first = failureOf(await reader.readRegularFile(x, deadline));
    assert.deepEqual(first, { kind: 'timeout', file: x, deadlineMs: 50, state: 'timed-out' });
    assert.equal(describeReadFailure(first, 'x.json'), 'reading x.json did not finish within 0.05 s (a hung network mount?)');
    assert.deepEqual(reader.stuckPaths(), [x]);

    const again = failureOf(await reader.readRegularFile(x, { ...deadline, deadlineMs: 60_000 }));
    assert.deepEqual(again, { kind: 'timeout', file: x, deadlineMs: 60_000, state: 'still-pending' });
    assert.equal(statCalls.filter((file) => file === x).length, 1, 'no second read queued behind the stuck one');

    // Other files are read meanwhile.
    assert.ok((await reader.readRegularFile(y, deadline)).ok);

    // Once the mount answers, the path is read again.
    release();
    await eventually(() => Promise.resolve(assert.deepEqual(reader.stuckPaths(), [])));
    assert.ok((await reader.readRegularFile(x, deadline)).ok);
  });

  it(`with ${MAX_STUCK_OPERATIONS} reads stuck, no other read starts (the libuv pool is kept for serving)`, async () => {
    const dir = await tempDir({ 'a.json': '{}', 'b.json': '{}', 'c.json': '{}', 'd.json': '{}' });
    const files = ['a.json', 'b.json', 'c.json', 'd.json'].map((name) => path.join(dir, name));
    const { fs, hang, release, statCalls } = hangingFileSystem();
    const reader = new SafeReader(fs);
    const stuck = files.slice(0, MAX_STUCK_OPERATIONS);
    for (const file of stuck) {
      hang(file);
      assert.equal(failureOf(await reader.readRegularFile(file, deadline)).kind, 'timeout');
    }
    const next = files[MAX_STUCK_OPERATIONS] ?? '';
    const refused = failureOf(await reader.readRegularFile(next, deadline));
    assert.deepEqual(refused, { kind: 'timeout', file: next, deadlineMs: 50, state: 'too-many-stuck', stuck });
    assert.ok(!statCalls.includes(next), 'not even a stat was started');
    assert.match(describeReadFailure(refused, 'c.json'), /^c\.json was not read: reading .*a\.json, .*b\.json did not finish within 0\.05 s/);
    release();
    await eventually(() => Promise.resolve(assert.deepEqual(reader.stuckPaths(), [])));
    assert.ok((await reader.readRegularFile(next, deadline)).ok);
  });

  it('a directory listing has the deadline too', async () => {
    const dir = await tempDir({ 'a.json': '{}' });
    const { fs, release } = hangingFileSystem();
    let resume: () => void = () => undefined;
    const reader = new SafeReader({ ...fs, readdir: (directory) => new Promise((resolve) => (resume = () => void fs.readdir(directory).then(resolve))) });
    assert.deepEqual(await reader.listDirectory(dir, 50), { ok: false, failure: { kind: 'timeout', file: dir, deadlineMs: 50, state: 'timed-out' } });
    resume();
    release();
    await eventually(() => Promise.resolve(assert.deepEqual(reader.stuckPaths(), [])));
  });

  it('keepconfig.d uses a 2 s deadline and a 1 MiB limit', () => {
    assert.equal(CONFIG_READ_DEADLINE_MS, 2000);
    assert.equal(MAX_CONFIG_FILE_BYTES, 1024 * 1024);
    assert.equal(MAX_NESTING_DEPTH, 64);
  });
});

/*
 * End to end: `keepd check`, `keepd start` and a running keepd on real files.
 */

/** Opens the write end (so that a reader blocked on the FIFO would get EOF), then removes it. */
async function removeFifo(file: string): Promise<void> {
  try {
    const handle = await open(file, constants.O_WRONLY | constants.O_NONBLOCK);
    await handle.close();
  } catch {
    // ENXIO: nobody has it open for reading, as it should be.
  }
  await rm(file, { force: true });
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `keepd check` as a real process; killed (and failed) if it has not exited in 20 s: it must not wedge. */
function check(dir: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, ['check', '--config-dir', dir], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`keepd check did not exit within 20 s (wedged?)\n${stderr}`));
    }, 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const GOOD = { ...TEST_BASE, watch: { enabled: false } };

/** A file just over the size limit, and how keepd words its size. */
const OVERSIZED = `{"x": "${'x'.repeat(MAX_CONFIG_FILE_BYTES)}"}`;
const OVERSIZED_BYTES = `${Buffer.byteLength(OVERSIZED).toLocaleString('en-US')} bytes \\(1\\.0 MiB\\)`;

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('keepd check on hostile files', () => {
  it('a dangling *.json symlink: exit 2 naming the link and its target', async () => {
    const dir = await tempDir({ 'ports.json': GOOD });
    await symlink('/nonexistent/keepd/x.json', path.join(dir, 'x.json'));
    const run = await check(dir);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /- x\.json: x\.json is a symbolic link to \/nonexistent\/keepd\/x\.json, which does not exist: restore the target or remove the link/);
  });

  it('a symlink loop named x.json: exit 2 naming it', async () => {
    const dir = await tempDir({ 'ports.json': GOOD });
    await symlink('x.json', path.join(dir, 'x.json'));
    const run = await check(dir);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /- x\.json: cannot read .*x\.json: it is a symbolic link loop/);
  });

  it('a file over the size limit: exit 2 naming the file, its size and the limit', async () => {
    const dir = await tempDir({ 'ports.json': GOOD, 'big.json': OVERSIZED });
    const run = await check(dir);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`- big\\.json: big\\.json is ${OVERSIZED_BYTES}, over the limit of 1 MiB per file`));
  });

  it('a FIFO named x.json: exit 2 at once, naming it (nothing blocks on it)', async () => {
    const dir = await tempDir({ 'ports.json': GOOD });
    const fifo = path.join(dir, 'x.json');
    await execFileAsync('mkfifo', [fifo]);
    try {
      const run = await check(dir);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /- x\.json: x\.json is a FIFO \(named pipe\), not a regular file/);
    } finally {
      await removeFifo(fifo);
    }
  });

  it('2000 levels of nesting: check and start exit 2 naming file, line and column', async () => {
    const dir = await tempDir({ 'ports.json': GOOD, 'deep.json': `{\n  "x":\n    ${'['.repeat(2000)}${']'.repeat(2000)}\n}` });
    const run = await check(dir);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /- deep\.json:3:68: nested more than 64 levels deep here/);
    assert.doesNotMatch(run.stderr, /call stack/);
    const start = await failedStart(dir);
    assert.equal(start.code, 2, start.stderr);
    assert.match(start.stderr, /deep\.json:3:68: nested more than 64 levels deep here/);
  });

  it('two identity blocks in one file: exit 2 naming file, lines and key', async () => {
    const users = (await functionalUsers()) as { identity: Record<string, unknown> };
    const { managementAPI, ...others } = users.identity;
    const text = `{\n"identity": ${JSON.stringify({ managementAPI })},\n"identity": ${JSON.stringify(others)}\n}`;
    const dir = await tempDir({ 'ports.json': GOOD, 'functionalUsers.json': text });
    const run = await check(dir);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /- functionalUsers\.json:3:1: identity: appears twice in this file \(lines 2 and 3\): merge the two blocks/);
  });
});

type Outcome = { status: string; generation: number; changes?: string[]; errors?: string[]; problems?: string[] };
interface HealthBody {
  status: string;
  components: { config: { stale: boolean; error?: { problems: string[] } } };
}

async function startWith(files: Record<string, object>): Promise<{ keepd: KeepdProcess; dir: string }> {
  const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': GOOD, 'tls.json': TLS_CONFIGS.pem, ...files });
  return { keepd: await startKeepd(dir), dir };
}

async function reload(keepd: KeepdProcess): Promise<Outcome> {
  const answer = await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/reload`, { method: 'POST', auth: [...USERS.management] });
  return answer.json() as Outcome;
}

async function health(keepd: KeepdProcess): Promise<{ status: number; body: HealthBody }> {
  const answer = await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] });
  return { status: answer.status, body: answer.json() as HealthBody };
}

/** The reload was refused with `pattern` among its problems, and keepd still serves, saying it is stale. */
async function assertRefused(keepd: KeepdProcess, outcome: Outcome, pattern: RegExp): Promise<void> {
  assert.equal(outcome.status, 'rejected', JSON.stringify(outcome));
  assert.ok(outcome.problems?.some((problem) => pattern.test(problem)), JSON.stringify(outcome.problems));
  const { status, body } = await health(keepd);
  assert.equal(status, 200, 'still serving');
  assert.equal(body.components.config.stale, true);
  assert.ok(body.components.config.error?.problems.some((problem) => pattern.test(problem)), JSON.stringify(body));
}

async function assertApplied(keepd: KeepdProcess, outcome: Outcome): Promise<void> {
  assert.equal(outcome.status, 'applied', JSON.stringify(outcome));
  const { body } = await health(keepd);
  assert.equal(body.components.config.stale, false, JSON.stringify(body));
}

describe('a running keepd and hostile files (POST /reload, watching off)', () => {
  it('a file over the limit is refused, keepd keeps serving, and the next good edit applies', async () => {
    const { keepd, dir } = await startWith({});
    try {
      await writeFile(path.join(dir, 'big.json'), OVERSIZED);
      await assertRefused(keepd, await reload(keepd), new RegExp(`^big\\.json: big\\.json is ${OVERSIZED_BYTES}, over the limit of 1 MiB per file`));
      await writeFile(path.join(dir, 'big.json'), JSON.stringify({ drainTimeoutSeconds: 3 }));
      await assertApplied(keepd, await reload(keepd));
    } finally {
      await keepd.stop();
    }
  });

  it('a FIFO named x.json is refused without blocking; once it is a file again, the next reload applies', async () => {
    const { keepd, dir } = await startWith({});
    const fifo = path.join(dir, 'x.json');
    try {
      await execFileAsync('mkfifo', [fifo]);
      await assertRefused(keepd, await reload(keepd), /^x\.json: x\.json is a FIFO \(named pipe\), not a regular file/);
      // Refused again, not wedged: every reload answers.
      assert.equal((await reload(keepd)).status, 'rejected');
      await unlink(fifo);
      await writeFile(fifo, JSON.stringify({ drainTimeoutSeconds: 3 }));
      await assertApplied(keepd, await reload(keepd));
    } finally {
      await removeFifo(fifo);
      await keepd.stop();
    }
  });

  it('a dangling symlink is refused naming its target; restoring the target applies', async () => {
    const { keepd, dir } = await startWith({});
    const target = path.join(dir, 'shared', 'extra.json');
    try {
      await symlink(target, path.join(dir, 'extra.json'));
      await assertRefused(keepd, await reload(keepd), new RegExp(`^extra\\.json: extra\\.json is a symbolic link to ${escapeRegExp(target)}, which does not exist: restore the target or remove the link`));
      await mkdir(path.dirname(target));
      await writeFile(target, JSON.stringify({ drainTimeoutSeconds: 3 }));
      await assertApplied(keepd, await reload(keepd));
    } finally {
      await keepd.stop();
    }
  });

  it('a duplicated identity block is refused: the accounts of the first block keep working', async () => {
    const users = (await functionalUsers()) as { identity: Record<string, unknown> };
    const { managementAPI, ...others } = users.identity;
    const { keepd, dir } = await startWith({});
    try {
      await writeFile(path.join(dir, 'functionalUsers.json'), `{\n"identity": ${JSON.stringify({ managementAPI })},\n"identity": ${JSON.stringify(others)}\n}`);
      await assertRefused(keepd, await reload(keepd), /^functionalUsers\.json:3:1: identity: appears twice in this file \(lines 2 and 3\): merge the two blocks/);
      // The management account (first block) still logs in: the refused file changed nothing.
      assert.equal((await reload(keepd)).status, 'rejected');
      await writeFile(path.join(dir, 'functionalUsers.json'), JSON.stringify(users));
      const fixed = await reload(keepd);
      assert.ok(fixed.status === 'unchanged' || fixed.status === 'applied', JSON.stringify(fixed));
      assert.equal((await health(keepd)).body.components.config.stale, false);
    } finally {
      await keepd.stop();
    }
  });
});
