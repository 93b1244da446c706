import type { AuthGate } from '../auth/authenticate.js';
import type { Gateway } from '../gateway/gateway.js';
import { requireAccount } from './authentication.js';
import type { ListenerParts } from './listener-server.js';

/** All the data listener may use: its own authentication and the gateway to the product. */
export interface DataContext {
  readonly auth: AuthGate;
  readonly gateway: Gateway;
}

/**
 * The data listener (PORT, realm singleDbModeUsers). With `listeners.data.upstream.url` set, every
 * request and WebSocket upgrade goes to the gateway before Fastify sees it (gateway/proxy.ts:
 * body limit, client address, the functional account or the login throttle, then the product
 * via gateway/exchange.ts; upgrades via gateway/websocket.ts). Without an upstream: security
 * headers and Basic auth (authentication.ts), then whoami, which proves the guard.
 */
export function dataListener(ctx: DataContext): ListenerParts {
  const { gateway } = ctx;
  return {
    front: {
      request: (req, res) => {
        if (!gateway.active) return false;
        gateway.handle(req, res);
        return true;
      },
      upgrade: (req, socket, head) => {
        if (!gateway.active) return false;
        gateway.upgrade(req, socket, head);
        return true;
      },
    },
    routes: (app, { headers }) => {
      requireAccount(app, ctx.auth, headers);
      app.get('/api/whoami', (request) => {
        const account = request.account;
        return { name: account?.name ?? null, CN: account?.CN ?? null, realm: account?.realm ?? null };
      });
    },
  };
}
