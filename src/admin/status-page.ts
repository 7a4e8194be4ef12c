import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import type { RelayConfig } from '../config/relay-config';
import { configuredAdminToken } from './admin-auth.guard';
import { STATUS_PAGE_CSS, STATUS_PAGE_HTML, STATUS_PAGE_ICON, STATUS_PAGE_JS } from './status-page.assets';

/** Where the ops status page lives. */
export const STATUS_PAGE_PATH = '/admin/ui';

/**
 * Only the relay's own files: no inline script or style, no other origin (the page works air-gapped), no framing,
 * and fetches to this origin alone (where the admin API is).
 */
export const STATUS_PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function send(reply: FastifyReply, type: string, body: string): FastifyReply {
  return reply
    .header('content-security-policy', STATUS_PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-cache')
    .type(type)
    .send(body);
}

/**
 * Serves the ops status page (`/admin/ui`, its script and stylesheet) when the admin API is on (with no admin
 * token the path is a 404 like the rest of /admin). The files are static and carry no data, so they are served
 * without the token: the operator signs in on the page, which keeps the token in sessionStorage and sends it as a
 * Bearer header on every call to the admin API (the only place data comes from). Call after `app.init()` and
 * before `listen()`.
 */
export function setupStatusPage(app: NestFastifyApplication, config: RelayConfig): void {
  if (configuredAdminToken(config) === undefined) return;
  const fastify = app.getHttpAdapter().getInstance();
  const page = (_req: unknown, reply: FastifyReply) =>
    send(reply, 'text/html; charset=utf-8', STATUS_PAGE_HTML);
  fastify.get(STATUS_PAGE_PATH, page);
  fastify.get(`${STATUS_PAGE_PATH}/`, page);
  fastify.get(`${STATUS_PAGE_PATH}/app.js`, (_req, reply) =>
    send(reply, 'application/javascript; charset=utf-8', STATUS_PAGE_JS),
  );
  fastify.get(`${STATUS_PAGE_PATH}/app.css`, (_req, reply) =>
    send(reply, 'text/css; charset=utf-8', STATUS_PAGE_CSS),
  );
  fastify.get(`${STATUS_PAGE_PATH}/favicon.svg`, (_req, reply) =>
    send(reply, 'image/svg+xml', STATUS_PAGE_ICON),
  );
}
