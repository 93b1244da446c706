import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

/** A fresh directory removed after the test file; `files` maps names to contents (objects become JSON). */
export async function tempDir(files: Record<string, string | object | Buffer> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepd-test-'));
  after(() => rm(dir, { recursive: true, force: true }));
  await writeFiles(dir, files);
  return dir;
}

export async function writeFiles(dir: string, files: Record<string, string | object | Buffer>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const data = typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 2);
    await writeFile(path.join(dir, name), data);
  }
}
