/**
 * Large bodies through a proxy: a streamed upload (`curl -T` of a file, PUT /upload, whose answer
 * is the stand-in's count and sha256 of what arrived) and a streamed download
 * (GET /download?bytes=N, hashed as it arrives), with the proxy's RSS sampled every 50 ms.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';

export type Wrap = (command: string, args: string[]) => [string, string[]];

export interface Transfer {
  ok: boolean;
  /** Why not, when not. */
  problem: string;
  bytes: number;
  seconds: number;
  mibPerSecond: number;
  /** Highest RSS of the sampled process during the transfer (MiB); NaN when none was sampled. */
  maxRssMiB: number;
}

/** Writes `bytes` of random data to `file` (1 MiB at a time); resolves with its sha256. */
export async function makeUploadFile(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      const chunk = randomBytes(Math.min(1 << 20, bytes - written));
      hash.update(chunk);
      await handle.write(chunk);
      written += chunk.length;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

/** Samples a process's RSS every `everyMs` until stopped; resolves with the highest (MiB). */
function sampleRss(pid: number | undefined, everyMs = 50): () => Promise<number> {
  if (pid === undefined) return () => Promise.resolve(NaN);
  let max = NaN;
  const state = { sampling: true };
  const loop = (async () => {
    while (state.sampling) {
      const now = await rssMiB(pid);
      if (!(now <= max)) max = Number.isNaN(max) ? now : Math.max(max, now);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return async () => {
    state.sampling = false;
    await loop;
    const last = await rssMiB(pid);
    return Number.isNaN(max) ? last : Math.max(max, Number.isNaN(last) ? max : last);
  };
}

/** Runs curl (through `wrap`), hashing its stdout; curl's -w line goes to stderr. */
function curl(wrap: Wrap, args: string[]): Promise<{ code: number | null; stdoutSha256: string; stdoutBytes: number; stdout: string; stderr: string }> {
  const [command, wrapped] = wrap('curl', ['-sS', '-k', '--no-buffer', ...args]);
  return new Promise((resolve, reject) => {
    const child = spawn(command, wrapped, { stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    let bytes = 0;
    let head = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      if (head.length < 4096) head += chunk.toString('utf8', 0, Math.min(chunk.length, 4096));
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdoutSha256: hash.digest('hex'), stdoutBytes: bytes, stdout: head, stderr }));
  });
}

/** `<http code> <seconds>` from curl's `-w '%{stderr}%{http_code} %{time_total}'`. */
function timing(stderr: string): { status: number; seconds: number } {
  const match = /(\d{3}) ([\d.]+)\s*$/.exec(stderr);
  return { status: Number(match?.[1] ?? 0), seconds: Number(match?.[2] ?? NaN) };
}

const WRITE_OUT = '%{stderr}%{http_code} %{time_total}\n';

/** PUT `file` to `<base>/upload`; checks the stand-in's count and sha256 against `sha256`. */
export async function upload(wrap: Wrap, base: string, file: string, bytes: number, sha256: string, pid?: number): Promise<Transfer> {
  const stop = sampleRss(pid);
  const result = await curl(wrap, ['-T', file, '-w', WRITE_OUT, `${base}/upload`]);
  const maxRssMiB = await stop();
  const { status, seconds } = timing(result.stderr);
  let answer: { bytes?: unknown; sha256?: unknown } = {};
  try {
    answer = JSON.parse(result.stdout) as typeof answer;
  } catch {
    // reported below
  }
  const problems = [
    result.code === 0 ? '' : `curl exited with ${String(result.code)}: ${result.stderr.trim()}`,
    status === 200 ? '' : `status ${status}`,
    answer.bytes === bytes ? '' : `the upstream received ${String(answer.bytes)} bytes, not ${bytes}`,
    answer.sha256 === sha256 ? '' : 'sha256 mismatch',
  ].filter(Boolean);
  return { ok: problems.length === 0, problem: problems.join('; '), bytes, seconds, mibPerSecond: bytes / 2 ** 20 / seconds, maxRssMiB };
}

/** GET `<base>/download?bytes=N`, hashed as it arrives and checked against `sha256`. */
export async function download(wrap: Wrap, base: string, bytes: number, sha256: string, pid?: number): Promise<Transfer> {
  const stop = sampleRss(pid);
  const result = await curl(wrap, ['-w', WRITE_OUT, `${base}/download?bytes=${bytes}`]);
  const maxRssMiB = await stop();
  const { status, seconds } = timing(result.stderr);
  const problems = [
    result.code === 0 ? '' : `curl exited with ${String(result.code)}: ${result.stderr.trim()}`,
    status === 200 ? '' : `status ${status}`,
    result.stdoutBytes === bytes ? '' : `received ${result.stdoutBytes} bytes, not ${bytes}`,
    result.stdoutSha256 === sha256 ? '' : 'sha256 mismatch',
  ].filter(Boolean);
  return { ok: problems.length === 0, problem: problems.join('; '), bytes: result.stdoutBytes, seconds, mibPerSecond: result.stdoutBytes / 2 ** 20 / seconds, maxRssMiB };
}
