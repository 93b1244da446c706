import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const created: string[] = [];
// Removed when the test file's process ends (not per test: a daemon may still be reading them).
process.once('exit', () => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory; `files` maps names to contents (objects become JSON). */
export async function tempDir(files: Record<string, string | object | Buffer> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepd-test-'));
  created.push(dir);
  await writeFiles(dir, files);
  return dir;
}

export async function writeFiles(dir: string, files: Record<string, string | object | Buffer>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const data = typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 2);
    await writeFile(path.join(dir, name), data);
  }
}
