import { readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LoadedConfig } from '../config/assemble.js';
import type { ListenerName } from '../config/listener-table.js';
import { maskConfig } from '../config/mask.js';
import type { LogRing } from '../support/log-ring.js';
import { VERSION } from '../support/package-info.js';
import { tarGz, type TarEntry } from '../support/tar.js';
import type { RouteEntry } from './listener-server.js';
import { configSources } from './management-console-routes.js';
import { infoReport, type DaemonSnapshot } from './status-reports.js';

/*
 * GET /support (the product's "Support package"): what an admin sends along with a question, as a
 * .tar.gz. Only what the management routes show already: the masked configuration and its
 * sources, /info, /routes, the recent log (written after redaction), versions, and the names,
 * sizes and times of the configuration folder's files (never their content). No secret, key,
 * password or salted secret.
 */

export interface SupportContext {
  readonly logRing: LogRing;
  config(): LoadedConfig;
  snapshot(): DaemonSnapshot;
  routes(): Record<ListenerName, RouteEntry[]>;
}

/** The configuration folder's files: name, size, modification time (subfolders are named, not read). */
async function folderListing(configDir: string): Promise<{ name: string; type: string; size: number; mtime: string }[]> {
  const entries = await readdir(configDir, { withFileTypes: true }).catch(() => []);
  const out: { name: string; type: string; size: number; mtime: string }[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const facts = await stat(path.join(configDir, entry.name)).catch(() => undefined);
    out.push({
      name: entry.name,
      type: entry.isDirectory() ? 'directory' : entry.isFile() ? 'file' : entry.isSymbolicLink() ? 'symlink' : 'other',
      size: facts?.size ?? 0,
      mtime: facts?.mtime.toISOString() ?? '',
    });
  }
  return out;
}

export async function supportPackage(ctx: SupportContext, now = new Date()): Promise<Buffer> {
  const loaded = ctx.config();
  const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
  const log = `[${ctx.logRing.recent(0).map((line) => line.json).join(',\n')}]\n`;
  const entries: TarEntry[] = [
    { name: 'config.json', body: json(maskConfig(loaded.merged)) },
    { name: 'config-sources.json', body: json(configSources(loaded)) },
    { name: 'info.json', body: json(infoReport(ctx.snapshot())) },
    { name: 'routes.json', body: json(ctx.routes()) },
    { name: 'log.json', body: log },
    { name: 'versions.json', body: json({ keepd: VERSION, node: process.versions.node, openssl: process.versions.openssl, os: { type: os.type(), release: os.release(), arch: os.arch(), platform: process.platform } }) },
    { name: 'files.json', body: json({ configDir: loaded.configDir, files: await folderListing(loaded.configDir) }) },
  ];
  return tarGz(entries.map((entry) => ({ ...entry, mtime: now })));
}

/** `keepd-support-2025-01-31T12-00-00Z.tar.gz`: the ISO time, with `-` for `:` (a file name everywhere). */
export function supportFileName(now: Date): string {
  return `keepd-support-${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}.tar.gz`;
}

export function registerSupportPackage(app: FastifyInstance, ctx: SupportContext): void {
  app.get('/support', async (_request, reply) => {
    const now = new Date();
    const body = await supportPackage(ctx, now);
    return reply.type('application/gzip').header('content-disposition', `attachment; filename="${supportFileName(now)}"`).send(body);
  });
}
