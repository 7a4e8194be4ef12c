import { createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { FakeVendorFront, type Forward, type Refusal } from './fake-vendor-front';

const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/**
 * Google's OAuth token endpoint for service accounts: checks the JWT-bearer assertion (RS256, signed with the
 * service account's key, audience = token_uri) and issues an opaque access token valid for an hour.
 */
export class FakeGoogleTokenEndpoint {
  readonly issued: string[] = [];
  readonly privateKeyPem: string;
  private readonly publicKey;
  private readonly server: Server;
  private baseUrl?: string;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.publicKey = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => this.answer(raw, res));
    });
  }

  private answer(raw: string, res: ServerResponse): void {
    const form = new URLSearchParams(raw);
    const assertion = form.get('assertion') ?? '';
    const [h, p, s] = assertion.split('.');
    const ok =
      form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' &&
      h !== undefined &&
      p !== undefined &&
      s !== undefined &&
      verify('RSA-SHA256', Buffer.from(`${h}.${p}`), this.publicKey, Buffer.from(s, 'base64url'));
    const claims = ok
      ? (JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { aud?: string; scope?: string })
      : {};
    if (!ok || !this.audiences.has(claims.aud ?? '') || !claims.scope?.includes('cloud-platform')) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }));
      return;
    }
    const token = `ya29.fake-${randomBytes(12).toString('hex')}`;
    this.issued.push(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: token, expires_in: 3600, token_type: 'Bearer' }));
  }

  /** The audience the assertion must name: Google's token URL (what google-auth-library signs) or this one's. */
  private get audiences(): Set<string> {
    return new Set([GOOGLE_TOKEN_URL, this.tokenUri]);
  }

  get tokenUri(): string {
    return `${this.baseUrl}/token`;
  }

  /** Writes a service-account JSON file whose token_uri points here. */
  writeServiceAccount(path: string, projectId: string): void {
    writeFileSync(
      path,
      JSON.stringify({
        type: 'service_account',
        project_id: projectId,
        private_key_id: 'fake-key-id',
        private_key: this.privateKeyPem,
        client_email: `relay@${projectId}.iam.gserviceaccount.com`,
        client_id: '1234567890',
        token_uri: this.tokenUri,
      }),
    );
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A Google-shaped error answer. */
export function googleError(code: number, status: string, message: string): Refusal {
  return { status: code, body: JSON.stringify({ error: { code, message, status } }) };
}

const PATH =
  /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/;

/**
 * Vertex AI's Claude endpoints: rawPredict / streamRawPredict / count-tokens:rawPredict. The Bearer token must be
 * one the token endpoint issued; the body must carry anthropic_version vertex-2023-10-16 and no model (count-tokens:
 * a model); the model in the path must be known. Answers are the inner fake's Anthropic JSON and SSE as they are.
 * `override` answers a request in Google's own error shape instead (RESOURCE_EXHAUSTED, UNAVAILABLE…).
 */
export class FakeVertex extends FakeVendorFront {
  override?: (path: string) => Refusal | undefined;

  constructor(
    private readonly tokens: FakeGoogleTokenEndpoint,
    private readonly project: string,
    private readonly region: string,
  ) {
    super();
  }

  protected check(req: IncomingMessage, raw: Buffer): Promise<Forward | Refusal> {
    return Promise.resolve(this.verdict(req, raw));
  }

  private verdict(req: IncomingMessage, raw: Buffer): Forward | Refusal {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !this.tokens.issued.includes(auth.slice(7))) {
      return googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    }
    const m = PATH.exec(req.url ?? '');
    if (req.method !== 'POST' || !m)
      return googleError(404, 'NOT_FOUND', `no route ${req.method} ${req.url}`);
    const [, project, region, model, verb] = m;
    if (project !== this.project || region !== this.region)
      return googleError(403, 'PERMISSION_DENIED', 'wrong project or location');
    const override = this.override?.(req.url ?? '');
    if (override) return override;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return googleError(400, 'INVALID_ARGUMENT', 'body is not JSON');
    }
    if (body.anthropic_version !== 'vertex-2023-10-16')
      return googleError(400, 'INVALID_ARGUMENT', 'anthropic_version must be vertex-2023-10-16');
    const anthropicHeaders: Record<string, string> = {};
    if (typeof req.headers['anthropic-beta'] === 'string')
      anthropicHeaders['anthropic-beta'] = req.headers['anthropic-beta'];
    if (model === 'count-tokens') {
      if (verb !== 'rawPredict' || typeof body.model !== 'string')
        return googleError(400, 'INVALID_ARGUMENT', 'count-tokens needs rawPredict and a model');
      const { anthropic_version: _v, ...rest } = body;
      return { path: '/v1/messages/count_tokens', body: rest, headers: anthropicHeaders };
    }
    if ('model' in body)
      return googleError(400, 'INVALID_ARGUMENT', 'model belongs in the URL, not the body');
    if ((verb === 'streamRawPredict') !== (body.stream === true))
      return googleError(400, 'INVALID_ARGUMENT', `${verb} with stream=${String(body.stream)}`);
    const { anthropic_version: _v, ...rest } = body;
    return {
      path: '/v1/messages',
      body: { ...rest, model: decodeURIComponent(model!) },
      headers: anthropicHeaders,
    };
  }

  protected async relay(
    res: ServerResponse,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    body: NodeJS.ReadableStream & AsyncIterable<Buffer>,
  ): Promise<void> {
    res.writeHead(status, { 'content-type': String(headers['content-type'] ?? 'application/json') });
    for await (const chunk of body) res.write(chunk);
    res.end();
  }
}
