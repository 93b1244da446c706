/** Every call the console makes: the management routes a script uses, with the browser's login. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let unauthorized: () => void = () => undefined;

/** What to do when keepd no longer accepts the login the browser holds (credentials changed). */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

export function signalUnauthorized(): void {
  unauthorized();
}

function messageOf(json: unknown): string | undefined {
  if (typeof json === 'object' && json !== null && 'message' in json && typeof json.message === 'string') return json.message;
  return undefined;
}

/** The answer, whatever its status, except a 401 (signalled) or no answer at all (thrown). */
export async function send(method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  let response: Response;
  try {
    response = await fetch(route, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(0, `${method} ${route}: keepd did not answer (${error instanceof Error ? error.message : String(error)})`);
  }
  if (response.status === 401) {
    signalUnauthorized();
    throw new ApiError(401, `${method} ${route}: 401, the login is no longer accepted`);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/** The JSON answer of a 2xx; an ApiError with keepd's message otherwise. */
export async function api<T>(method: string, route: string, body?: unknown): Promise<T> {
  const { status, json, text } = await send(method, route, body);
  if (status < 200 || status > 299) throw new ApiError(status, `${method} ${route}: ${status} ${messageOf(json) ?? text.slice(0, 200)}`);
  return json as T;
}

export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
