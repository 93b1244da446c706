/**
 * Lets the event loop run before the next step of a long job (a reload of a large configuration):
 * requests waiting meanwhile are answered between the steps instead of after all of them.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
