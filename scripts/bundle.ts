/**
 * Bundles the compiled CLI (dist/src/cli/main.js) and its dependencies into one file,
 * dist/keepd.mjs, which is what `keepd`, `npm start` and the tests run.
 *
 * Why: Node 20 resolves and compiles every ES module file separately; keepd's dependency graph
 * is several hundred files, and loading them was most of the time to start all four listeners
 * (about 600 ms unbundled, under 400 ms bundled; see docs/benchmarks.md).
 */
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// The build's own output directory (dist/, or another --outDir): its bundle sits beside its sources.
const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(out, 'keepd.mjs');

await build({
  entryPoints: [path.join(out, 'src', 'cli', 'main.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  // Prefer the ES module builds: jsonc-parser's "main" is a UMD file with dynamic requires.
  mainFields: ['module', 'main'],
  // Loaded only when needed (a first run; a JKS keystore) and large: left out of the bundle so
  // that every start does not parse and keep their source, loaded from node_modules when used.
  external: ['selfsigned', 'jks-js', 'pino-pretty'],
  sourcemap: true,
  logLevel: 'warning',
  // CommonJS dependencies call require() for Node built-ins; give the ES module bundle one.
  banner: { js: "import { createRequire as __keepdCreateRequire } from 'node:module'; const require = __keepdCreateRequire(import.meta.url);" },
});
await chmod(outfile, 0o755);

// The management console (src/console/, served by src/listeners/console.ts from dist/console/):
// its TypeScript bundled for browsers (tsc -p src/console only checks it), its page and style
// copied. The source is read from the repository, beside the build's output directory.
const consoleSource = path.join(path.dirname(out), 'src', 'console');
const consoleOut = path.join(out, 'console');
await mkdir(consoleOut, { recursive: true });
await build({
  entryPoints: [path.join(consoleSource, 'app.ts')],
  outfile: path.join(consoleOut, 'app.js'),
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  tsconfig: path.join(consoleSource, 'tsconfig.json'),
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css', 'favicon.svg']) await copyFile(path.join(consoleSource, file), path.join(consoleOut, file));
