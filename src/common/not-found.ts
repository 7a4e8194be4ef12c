/** The longest path a 404 message or log line repeats (a long URL is cut with `…`). */
const MAX_PATH_SHOWN = 200;

/** The path of a request URL without its query string (which may carry a key), cut to a readable length. */
export function pathOfUrl(url: string): string {
  const q = url.search(/[?#]/);
  const path = q === -1 ? url : url.slice(0, q);
  return path.length > MAX_PATH_SHOWN ? `${path.slice(0, MAX_PATH_SHOWN)}…` : path;
}

/**
 * The message of a 404 for a path no route serves: the method and path, and for `/v1/v1/…` the usual cause (a client
 * base URL ending in /v1, e.g. ANTHROPIC_BASE_URL=http://host:8787/v1: clients append /v1/messages themselves).
 */
export function notFoundMessage(method: string, url: string): string {
  const path = pathOfUrl(url);
  const message = `no route for ${method} ${path}`;
  if (!/^\/v1\/v1(\/|$)/i.test(path)) return message;
  return (
    `${message}: the client's base URL must not end in /v1 (clients append /v1/messages themselves), ` +
    `e.g. ANTHROPIC_BASE_URL=http://host:8787, not http://host:8787/v1`
  );
}
