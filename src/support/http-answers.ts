import { STATUS_CODES } from 'node:http';

/** Every error keepd answers itself: `{"statusCode", "error", "message"}`, never a stack. */
export function errorBody(statusCode: number, message: string): { statusCode: number; error: string; message: string } {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** How long a browser may remember to use TLS for this host (one year, no subdomains). */
export const HSTS = 'max-age=31536000';
