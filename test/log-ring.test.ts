import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { LOG_LINE_MAX_BYTES, LogRing } from '../src/support/log-ring.js';
import { createLogger } from '../src/support/logger.js';
import { tarGz } from '../src/support/tar.js';

const sink = (): Writable & { text: string } => {
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out.text += chunk.toString('utf8');
      done();
    },
  }) as Writable & { text: string };
  out.text = '';
  return out;
};

describe('log ring', () => {
  it('keeps the lines pino writes, after redaction, and only those of the level in use', async () => {
    const ring = new LogRing();
    const destination = sink();
    const logger = await createLogger({ level: 'info', pretty: false, destination, ring });
    logger.info({ password: 'hunter2', req: { headers: { authorization: 'Basic c2VjcmV0' } } }, 'one');
    logger.debug('not written');
    logger.warn('two');
    const lines = ring.recent(0).map((line) => JSON.parse(line.json) as Record<string, unknown>);
    assert.deepEqual(lines.map((line) => line.msg), ['one', 'two']);
    assert.equal(destination.text.trim().split('\n').length, 2);
    assert.ok(!JSON.stringify(lines).includes('hunter2') && !JSON.stringify(lines).includes('c2VjcmV0'));
    assert.deepEqual(ring.recent(40).map((line) => line.level), [40]);
  });

  it('is bounded: the newest lines, each at most 8 KiB', () => {
    const ring = new LogRing(3);
    for (let i = 0; i < 5; i++) ring.push(`{"level":30,"time":${i},"msg":"line ${i}"}\n`);
    assert.deepEqual(ring.recent(30).map((line) => (JSON.parse(line.json) as { msg: string }).msg), ['line 2', 'line 3', 'line 4']);
    assert.equal(ring.recent(30, 1).length, 1);
    assert.deepEqual(ring.recent(30, 10, 4).map((line) => line.seq), [5], 'after line 4: the lines a reconnecting client has not seen');
    ring.push(`${JSON.stringify({ level: 50, time: 9, msg: 'x'.repeat(20_000), extra: 'y'.repeat(20_000) })}\n`);
    const [long] = ring.recent(50);
    assert.ok(long && Buffer.byteLength(long.json) <= LOG_LINE_MAX_BYTES);
    const parsed = JSON.parse(long.json) as { level: number; truncated: boolean; msg: string };
    assert.equal(parsed.level, 50);
    assert.equal(parsed.truncated, true);
    assert.ok(parsed.msg.startsWith('xxx'));
  });

  it('tells subscribers of each new line until they leave', () => {
    const ring = new LogRing();
    const seen: string[] = [];
    const leave = ring.subscribe((line) => seen.push(line.json));
    ring.push('{"level":30,"msg":"a"}\n');
    leave();
    ring.push('{"level":30,"msg":"b"}\n');
    assert.deepEqual(seen, ['{"level":30,"msg":"a"}']);
  });
});

describe('tar writer', () => {
  it('writes an archive the real tar unpacks', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'keepd-tar-'));
    try {
      const big = 'z'.repeat(1500);
      await writeFile(path.join(dir, 'a.tar.gz'), tarGz([{ name: 'one.json', body: '{"a":1}\n' }, { name: 'big.txt', body: big }, { name: 'empty', body: '' }]));
      execFileSync('tar', ['-xzf', 'a.tar.gz'], { cwd: dir });
      assert.equal(await readFile(path.join(dir, 'one.json'), 'utf8'), '{"a":1}\n');
      assert.equal(await readFile(path.join(dir, 'big.txt'), 'utf8'), big);
      assert.equal(await readFile(path.join(dir, 'empty'), 'utf8'), '');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses names it cannot write safely', () => {
    assert.throws(() => tarGz([{ name: '../x', body: '' }]));
    assert.throws(() => tarGz([{ name: 'x'.repeat(120), body: '' }]));
  });
});
