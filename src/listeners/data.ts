import { requireAccount, type AuthGate } from './authentication.js';
import type { RouteRegistrar } from './listener-server.js';

/** All the data listener may use: its own authentication. */
export interface DataContext {
  readonly auth: AuthGate;
}

/**
 * The data listener (PORT, realm singleDbModeUsers). A request: security headers and Basic auth
 * (authentication.ts), then the route. The data path itself comes later; whoami proves the guard.
 */
export function dataRoutes(ctx: DataContext): RouteRegistrar {
  return (app, { headers }) => {
    requireAccount(app, ctx.auth, headers);
    app.get('/api/whoami', (request) => {
      const account = request.account;
      return { name: account?.name ?? null, CN: account?.CN ?? null, realm: account?.realm ?? null };
    });
  };
}
