/**
 * The login throttle store's section of docs/benchmarks.md (scripts/bench-throttle.ts): the marker,
 * then a heading and an introduction written once, the generated part between
 * `<!-- bench-throttle:latest -->` and `<!-- /bench-throttle:latest -->` (the only text a run
 * replaces), then "What misses and why", by hand. It comes after the front section.
 */
export const SECTION_MARKER = '<!-- bench-throttle:section -->';

export const HEAD = `## Login throttle store

Written by \`npm run bench -- --save\` (its fourth part, \`scripts/bench-throttle.ts\`; alone:
\`npm run bench:throttle -- [--runs N] [--save]\`; needs \`apt-get install -y redis-server\`). Two
keepd on plain HTTP, one with \`loginRateLimit.store\` \`"memory"\`, one with a Redis store (a
redis-server of the script's own on loopback, with a password), answering \`GET /health\` on the
health listener with one keep-alive connection per client address. Failed logins (a wrong
password: one PBKDF2 each, the throttle never blocking) alternate between the two in rounds, so
both see the same machine; their difference is what sharing the count costs. The throttle's own
work is also timed in-process (begin + finish: two Lua scripts against the same Redis, or the
in-memory record). Then successful logins whose credential keepd verified before: Redis's
\`INFO commandstats\` before and after must not move (the script fails otherwise).
`;
