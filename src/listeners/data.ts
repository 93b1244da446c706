import type { RouteRegistrar } from './listener-server.js';

/** The data listener (PORT, realm singleDbModeUsers). The data path itself comes later; whoami proves the guard. */
export const dataRoutes: RouteRegistrar = (app) => {
  app.get('/api/whoami', (request) => {
    const account = request.account;
    return { name: account?.name ?? null, CN: account?.CN ?? null, realm: account?.realm ?? null };
  });
};
