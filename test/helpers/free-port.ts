/** The benchmark scripts' helper, shared: a loopback port that was free a moment ago. */
export { freePortFor as freePort } from '../../scripts/lib/free-port.js';
