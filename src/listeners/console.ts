import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/*
 * The management console: a single-page app (src/console/, bundled by scripts/bundle.ts into
 * dist/console/) served by the management listener at GET /, behind its realm like every other
 * management route (the onRequest hook runs first). The page only calls the management routes a
 * script calls; these routes serve its three files, read once and then answered from memory.
 */

/** No inline script or style, nothing from elsewhere: the page talks to this listener only. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/console/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/favicon.ico': { file: 'favicon.svg', type: 'image/svg+xml' },
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * Where the build put the console: beside the bundle (dist/keepd.mjs -> dist/console/), or, run
 * unbundled from dist/src/listeners/, two folders up. undefined when it was not built.
 */
function consoleDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return [path.join(here, 'console'), path.join(here, '..', '..', 'console')].find((dir) => existsSync(path.join(dir, 'index.html')));
}

let assets: Map<string, Asset> | undefined;

/** The console's files, read on first use; an empty map when the build is missing. */
function loadAssets(): Map<string, Asset> {
  if (assets) return assets;
  const loaded = new Map<string, Asset>();
  const dir = consoleDir();
  if (dir !== undefined) {
    for (const [route, { file, type }] of Object.entries(FILES)) {
      const full = path.join(dir, file);
      if (!existsSync(full)) continue;
      const body = readFileSync(full);
      loaded.set(route, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
    }
  }
  // A complete build is kept; a missing one is looked for again on the next request.
  if (loaded.size >= 3) assets = loaded;
  return loaded;
}

function serve(route: string, ifNoneMatch: string | undefined, reply: FastifyReply): FastifyReply {
  void reply.header('content-security-policy', CONSOLE_CSP).header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer');
  const asset = loadAssets().get(route);
  if (!asset) {
    return reply.code(503).send({
      statusCode: 503,
      error: 'Service Unavailable',
      message: `the management console is not built (no ${FILES[route]?.file ?? route} in dist/console/ beside keepd.mjs): run npm run build`,
    });
  }
  // Behind the realm, but holding no secret: the browser may keep it and ask whether it changed.
  void reply.header('cache-control', 'private, no-cache').header('etag', asset.etag);
  if (ifNoneMatch === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}

/** Registers GET /, /console/app.js, /console/app.css and /favicon.ico on the management app. */
export function registerConsole(app: FastifyInstance): void {
  for (const route of Object.keys(FILES)) {
    app.get(route, (request, reply) => serve(route, request.headers['if-none-match'], reply));
  }
}
