import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from './helpers/paths.js';
import { tempDir } from './helpers/temp-dir.js';

const run = promisify(execFile);
const UNIT = path.join(REPO_ROOT, 'deploy', 'systemd', 'keepd.service');
const LOW_PORT = path.join(REPO_ROOT, 'deploy', 'systemd', 'keepd.service.d', 'low-port.conf');
const ANALYZE = '/usr/bin/systemd-analyze';
/**
 * systemd-analyze security's exposure (0 best, 10 worst). A network service that must run a JIT
 * (MemoryDenyWriteExecute=no) and bind sockets cannot reach 0; 2.0 is systemd's "OK" band, and
 * the shipped unit scores 1.3: a change that loosens it by more than a setting or two fails.
 */
const MAX_EXPOSURE = 2.0;
/** With the low-port drop-in: one capability, and no user namespace (it would void the capability). */
const MAX_EXPOSURE_LOW_PORT = 2.5;

/** The shipped unit with ExecStart pointing at this checkout's bundle (verify checks it exists and is executable). */
async function installed(withLowPort: boolean): Promise<string> {
  const dir = await tempDir();
  const text = (await readFile(UNIT, 'utf8')).replace('/opt/keepd/dist/keepd.mjs', path.join(REPO_ROOT, 'dist', 'keepd.mjs'));
  await writeFile(path.join(dir, 'keepd.service'), text);
  if (withLowPort) {
    await mkdir(path.join(dir, 'keepd.service.d'));
    await copyFile(LOW_PORT, path.join(dir, 'keepd.service.d', 'low-port.conf'));
  }
  return path.join(dir, 'keepd.service');
}

async function exposure(unit: string): Promise<{ score: number; output: string }> {
  const { stdout } = await run(ANALYZE, ['security', '--offline=yes', unit], { cwd: path.dirname(unit) });
  const score = Number(/Overall exposure level for keepd\.service: (\d+\.\d+)/.exec(stdout)?.[1]);
  assert.ok(Number.isFinite(score), stdout);
  return { score, output: stdout };
}

describe('deploy/systemd: the unit, checked by systemd itself', { skip: existsSync(ANALYZE) ? false : `no ${ANALYZE} (apt-get install -y systemd)` }, () => {
  it('systemd-analyze verify finds nothing to say', async () => {
    const unit = await installed(false);
    const { stdout, stderr } = await run(ANALYZE, ['verify', unit], { cwd: path.dirname(unit) });
    assert.equal(`${stdout}${stderr}`.trim(), '');
  });

  it(`systemd-analyze security --offline: exposure at most ${MAX_EXPOSURE}, no capability, the settings the issue names`, async () => {
    const { score, output } = await exposure(await installed(false));
    assert.ok(score <= MAX_EXPOSURE, `exposure ${score} > ${MAX_EXPOSURE}:\n${output}`);
    const text = await readFile(UNIT, 'utf8');
    for (const line of ['User=keepd', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'Restart=on-failure', 'ExecReload=/bin/kill -HUP $MAINPID', 'CapabilityBoundingSet=\n', 'AmbientCapabilities=\n']) {
      assert.ok(text.includes(line), `keepd.service lacks ${line.trim()}`);
    }
  });

  it(`with the low-port drop-in: CAP_NET_BIND_SERVICE only, exposure at most ${MAX_EXPOSURE_LOW_PORT}`, async () => {
    const unit = await installed(true);
    const { stdout, stderr } = await run(ANALYZE, ['verify', unit], { cwd: path.dirname(unit) });
    assert.equal(`${stdout}${stderr}`.trim(), '');
    const { score, output } = await exposure(unit);
    assert.ok(score <= MAX_EXPOSURE_LOW_PORT, `exposure ${score} > ${MAX_EXPOSURE_LOW_PORT}:\n${output}`);
    assert.ok(score > (await exposure(await installed(false))).score, 'the drop-in is read (it costs some exposure)');
    const dropIn = await readFile(LOW_PORT, 'utf8');
    assert.match(dropIn, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
    assert.match(dropIn, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
  });
});
