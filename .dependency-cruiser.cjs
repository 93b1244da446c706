/**
 * Import rules of keepd's src/, checked by `npm run check:imports` (part of `npm test`).
 * Layers, bottom to top: support -> config -> accounts, tls, metrics -> acme -> auth -> gateway -> listeners -> runtime -> cli.
 * An import may only point down; and no cycles at all, type-only imports included.
 */
const above = (layer, higher) => ({
  name: `${layer}-imports-down-only`,
  comment: `src/${layer} may not import from ${higher.join(', ')}: imports point down the layers`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${higher.join('|')})/` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle makes the modules of the cycle one knot: untangle it',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    above('support', ['config', 'accounts', 'tls', 'metrics', 'acme', 'auth', 'gateway', 'listeners', 'runtime', 'cli']),
    above('config', ['accounts', 'tls', 'metrics', 'acme', 'auth', 'gateway', 'listeners', 'runtime', 'cli']),
    above('accounts', ['tls', 'metrics', 'acme', 'auth', 'gateway', 'listeners', 'runtime', 'cli']),
    above('tls', ['accounts', 'metrics', 'acme', 'auth', 'gateway', 'listeners', 'runtime', 'cli']),
    above('metrics', ['accounts', 'tls', 'acme', 'auth', 'gateway', 'listeners', 'runtime', 'cli']),
    above('acme', ['accounts', 'metrics', 'auth', 'gateway', 'listeners', 'runtime', 'cli']),
    above('auth', ['gateway', 'listeners', 'runtime', 'cli']),
    above('gateway', ['listeners', 'runtime', 'cli']),
    above('listeners', ['runtime', 'cli']),
    above('runtime', ['cli']),
    {
      name: 'console-stands-alone',
      comment: 'src/console is browser code (bundled apart, for the management console): it imports nothing of the daemon, and the daemon nothing of it',
      severity: 'error',
      from: { path: '^src/console/' },
      to: { path: '^src/(?!console/)' },
    },
    {
      name: 'daemon-leaves-console-alone',
      comment: 'the daemon serves the console\'s built files; it never imports its sources',
      severity: 'error',
      from: { path: '^src/(?!console/)' },
      to: { path: '^src/console/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
