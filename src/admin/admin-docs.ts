import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { replyError } from '../common/reply-error';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import type { RelayConfig } from '../config/relay-config';
import { ADMIN_REALM, AdminTokenCheck, bearerToken, configuredAdminToken } from './admin-auth.guard';
import { AdminModule } from './admin.module';

/** Where the docs live; the OpenAPI JSON is at `${ADMIN_DOCS_PATH}-json`. */
export const ADMIN_DOCS_PATH = '/admin/docs';

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cc-relay admin API</title>
<link rel="stylesheet" href="${ADMIN_DOCS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${ADMIN_DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="${ADMIN_DOCS_PATH}/swagger-ui-init.js"></script>
</body>
</html>
`;

const INIT_JS = `window.ui = SwaggerUIBundle({ url: '${ADMIN_DOCS_PATH}-json', dom_id: '#swagger-ui', deepLinking: true });\n`;

/**
 * The docs also accept `Authorization: Basic` with the admin token as the password: a browser cannot send a
 * bearer token to open a page, but it prompts for Basic credentials when told to. The API itself stays bearer-only.
 */
function presentedDocsToken(header: string | undefined): string | undefined {
  const bearer = bearerToken(header);
  if (bearer !== undefined) return bearer;
  if (typeof header !== 'string' || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

function rejectDocs(req: FastifyRequest, reply: FastifyReply): void {
  const err = new RelayError(RelayErrorCode.AdminUnauthorized, 'admin docs: send the admin token');
  const headers = {
    ...err.headers,
    'www-authenticate': `Basic realm="${ADMIN_REALM}", charset="UTF-8"`,
    'cache-control': 'no-store',
  };
  void replyError(reply, { status: err.status, type: err.type, message: err.message, headers }, req.id);
}

/** The swagger-ui-dist folder that @nestjs/swagger itself depends on, wherever npm placed it. */
function swaggerUiDir(): string {
  const swagger = require.resolve('@nestjs/swagger');
  return dirname(require.resolve('swagger-ui-dist/package.json', { paths: [swagger] }));
}

/**
 * Serves the admin API's OpenAPI document (`/admin/docs-json`) and Swagger UI (`/admin/docs`), both behind the
 * admin token, only when one is configured (otherwise the paths stay 404 like the rest of the admin API).
 *
 * The routes go straight onto Fastify rather than through `SwaggerModule.setup()`: setup registers plain adapter
 * routes that Nest guards never see and needs @fastify/static for the UI assets; here each route carries its own
 * token check and the few UI files are streamed from swagger-ui-dist. Call after `app.init()` and before `listen()`
 * (Fastify takes no new routes once it listens).
 */
export function setupAdminDocs(app: NestFastifyApplication, config: RelayConfig): void {
  const token = configuredAdminToken(config);
  if (token === undefined) return;
  const check = new AdminTokenCheck(token);
  const fastify = app.getHttpAdapter().getInstance();

  const onRequest: onRequestHookHandler = (req, reply, done) => {
    const presented = presentedDocsToken(req.headers.authorization);
    if (presented === undefined || !check.matches(presented)) {
      rejectDocs(req, reply);
      return;
    }
    done();
  };

  let document: OpenAPIObject | undefined;
  // Built on first request: the scan needs the finished module graph, and most replicas never serve the docs.
  const getDocument = (): OpenAPIObject =>
    (document ??= SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('cc-relay admin API')
        .setDescription(
          'Provider health, manual circuit-breaker actions and the response cache. Every route needs ' +
            '`Authorization: Bearer <admin.token>`; errors use the Anthropic error body.',
        )
        .setVersion('1')
        .addBearerAuth({
          type: 'http',
          scheme: 'bearer',
          description: 'The admin.token from the relay config.',
        })
        .build(),
      { include: [AdminModule] },
    ));

  const page = (_req: FastifyRequest, reply: FastifyReply) =>
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(PAGE);
  fastify.get(ADMIN_DOCS_PATH, { onRequest }, page);
  fastify.get(`${ADMIN_DOCS_PATH}/`, { onRequest }, page);
  fastify.get(`${ADMIN_DOCS_PATH}-json`, { onRequest }, (_req, reply) =>
    reply.header('cache-control', 'no-store').type('application/json').send(JSON.stringify(getDocument())),
  );
  fastify.get(`${ADMIN_DOCS_PATH}/swagger-ui-init.js`, { onRequest }, (_req, reply) =>
    reply.type('application/javascript; charset=utf-8').send(INIT_JS),
  );
  let uiDir: string | undefined;
  for (const [file, type] of Object.entries(ASSETS)) {
    fastify.get(`${ADMIN_DOCS_PATH}/${file}`, { onRequest }, (_req, reply) =>
      reply.type(type).send(createReadStream(join((uiDir ??= swaggerUiDir()), file))),
    );
  }
}
