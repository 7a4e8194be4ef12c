/**
 * The request target in origin form (`/path?query`), as the relay routes, authenticates, caches and forwards it.
 * Node hands over the target as the client sent it: an absolute-form target (`POST http://relay/v1/messages`,
 * what a client configured to use the relay as its HTTP proxy sends) or one with a `#fragment` was routed to
 * the right handler by Fastify's router, which reads past both, but the raw target was forwarded upstream (a 404
 * there, or an absolute URI naming another host sent with the relay's key) and skipped the early credential check,
 * which looks for `/v1/`. Origin-form targets without `#`, what clients send, are returned as they are.
 */
export function originFormTarget(url: string): string {
  const hash = url.indexOf('#');
  if (url.charCodeAt(0) === 0x2f && hash === -1) return url;
  let target = hash === -1 ? url : url.slice(0, hash);
  if (target.charCodeAt(0) !== 0x2f) {
    const schemeEnd = target.indexOf('://');
    const scheme = schemeEnd === -1 ? '' : target.slice(0, schemeEnd).toLowerCase();
    // Not an http(s) absolute URI: the router refuses it as it is.
    if (scheme !== 'http' && scheme !== 'https') return url;
    const authorityStart = schemeEnd + 3;
    const slash = target.indexOf('/', authorityStart);
    const query = target.indexOf('?', authorityStart);
    if (query !== -1 && (slash === -1 || query < slash)) target = `/${target.slice(query)}`;
    else target = slash === -1 ? '/' : target.slice(slash);
  }
  return target === '' ? '/' : target;
}
