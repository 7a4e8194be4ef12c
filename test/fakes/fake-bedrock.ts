import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FakeVendorFront, type Forward, type Refusal } from './fake-vendor-front';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** A Bedrock error answer: the exception in x-amzn-errortype, `{"message"}` as the body. */
export function bedrockError(status: number, exception: string, message: string): Refusal {
  return {
    status,
    headers: { 'x-amzn-errortype': `${exception}:http://internal.amazon.com/coral/com.amazon.bedrock/` },
    body: JSON.stringify({ message }),
  };
}

/** One AWS event-stream message. */
function frame(headers: Record<string, string>, body: string): Uint8Array {
  const h: Record<string, { type: 'string'; value: string }> = {};
  for (const [k, v] of Object.entries(headers)) h[k] = { type: 'string', value: v };
  return codec.encode({ headers: h, body: fromUtf8(body) });
}

/** The Anthropic error types an inner fake's error stands for, as Bedrock names them. */
const EXCEPTION_OF_STATUS: Record<number, string> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  429: 'ThrottlingException',
  503: 'ServiceUnavailableException',
  529: 'ServiceUnavailableException',
};
const STREAM_EXCEPTION_OF_TYPE: Record<string, string> = {
  rate_limit_error: 'throttlingException',
  overloaded_error: 'serviceUnavailableException',
  invalid_request_error: 'validationException',
};

const PATH = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/;

/**
 * Bedrock Runtime's InvokeModel / InvokeModelWithResponseStream, strict like the real one: the SigV4 signature is
 * recomputed with the AWS SDK's signer from the known test credentials (service bedrock, the region given) and must
 * match; the body must carry anthropic_version bedrock-2023-05-31 and neither model nor stream. Streams answer in
 * the AWS binary event stream (each Anthropic event a `chunk` with base64 bytes; an error event an exception).
 * `override` answers a request with a Bedrock error instead.
 */
export class FakeBedrock extends FakeVendorFront {
  override?: (path: string) => Refusal | undefined;
  /** CountTokens calls answered (health probes). */
  countTokensCalls = 0;
  private readonly signer: SignatureV4;

  constructor(
    credentials: { accessKeyId: string; secretAccessKey: string },
    private readonly region: string,
  ) {
    super();
    this.signer = new SignatureV4({ credentials, region, service: 'bedrock', sha256: Sha256 });
  }

  protected async check(req: IncomingMessage, raw: Buffer): Promise<Forward | Refusal> {
    const auth = req.headers.authorization ?? '';
    const date = req.headers['x-amz-date'];
    const signedNames = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';');
    if (!auth.startsWith('AWS4-HMAC-SHA256 ') || typeof date !== 'string' || !signedNames) {
      return bedrockError(403, 'IncompleteSignatureException', 'missing SigV4 authorization');
    }
    if (!auth.includes(`/${this.region}/bedrock/aws4_request`)) {
      return bedrockError(
        403,
        'InvalidSignatureException',
        'credential scope names another region or service',
      );
    }
    const headers: Record<string, string> = {};
    for (const name of signedNames) headers[name] = String(req.headers[name] ?? '');
    const [host, port] = (req.headers.host ?? '').split(':');
    const signingDate = new Date(
      `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
    );
    const expected = await this.signer.sign(
      {
        method: req.method ?? 'POST',
        protocol: 'http:',
        hostname: host ?? '',
        ...(port === undefined ? {} : { port: Number(port) }),
        path: req.url ?? '/',
        headers,
        body: raw.toString('utf8'),
      },
      { signingDate },
    );
    if (expected.headers.authorization !== auth) {
      return bedrockError(
        403,
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided.',
      );
    }
    // CountTokens (what the relay's health probe sends): the invokeModel body wrapped, base64.
    if (req.method === 'POST' && /^\/model\/[^/]+\/count-tokens$/.test(req.url ?? '')) {
      const wrapped = JSON.parse(raw.toString('utf8')) as { input?: { invokeModel?: { body?: string } } };
      if (typeof wrapped.input?.invokeModel?.body !== 'string')
        return bedrockError(400, 'ValidationException', 'input.invokeModel.body is required');
      this.countTokensCalls++;
      return { status: 200, body: JSON.stringify({ inputTokens: 8 }) };
    }
    const m = PATH.exec(req.url ?? '');
    if (req.method !== 'POST' || !m)
      return bedrockError(404, 'UnknownOperationException', 'no such operation');
    const override = this.override?.(req.url ?? '');
    if (override) return override;
    const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    if (body.anthropic_version !== 'bedrock-2023-05-31')
      return bedrockError(400, 'ValidationException', 'anthropic_version must be bedrock-2023-05-31');
    if ('model' in body || 'stream' in body)
      return bedrockError(400, 'ValidationException', 'extraneous key [model/stream] is not permitted');
    const { anthropic_version: _v, anthropic_beta: beta, ...rest } = body;
    const forwardHeaders: Record<string, string> = {};
    if (Array.isArray(beta)) forwardHeaders['anthropic-beta'] = beta.join(',');
    return {
      path: '/v1/messages',
      body: { ...rest, model: decodeURIComponent(m[1]!), stream: m[2] === 'invoke-with-response-stream' },
      headers: forwardHeaders,
    };
  }

  protected async relay(
    res: ServerResponse,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    body: NodeJS.ReadableStream & AsyncIterable<Buffer>,
    stream: boolean,
  ): Promise<void> {
    if (status !== 200) {
      let text = '';
      for await (const chunk of body) text += chunk.toString('utf8');
      let message = text;
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        // not JSON: as is
      }
      const error = bedrockError(
        status === 529 ? 503 : status,
        EXCEPTION_OF_STATUS[status] ?? 'InternalServerException',
        message,
      );
      res.writeHead(error.status, { 'content-type': 'application/json', ...error.headers });
      res.end(error.body);
      return;
    }
    if (!stream || !String(headers['content-type']).startsWith('text/event-stream')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      for await (const chunk of body) res.write(chunk);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
    let pending = '';
    for await (const chunk of body) {
      pending += chunk.toString('utf8');
      let end: number;
      while ((end = pending.indexOf('\n\n')) !== -1) {
        const block = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (data === '') continue;
        const event = JSON.parse(data) as { type: string; error?: { type: string; message: string } };
        if (event.type === 'ping') continue;
        if (event.type === 'error') {
          const exception = STREAM_EXCEPTION_OF_TYPE[event.error?.type ?? ''] ?? 'modelStreamErrorException';
          res.write(
            frame(
              {
                ':message-type': 'exception',
                ':exception-type': exception,
                ':content-type': 'application/json',
              },
              JSON.stringify({ message: event.error?.message ?? '' }),
            ),
          );
          continue;
        }
        res.write(
          frame(
            { ':message-type': 'event', ':event-type': 'chunk', ':content-type': 'application/json' },
            JSON.stringify({ bytes: Buffer.from(data).toString('base64') }),
          ),
        );
      }
    }
    res.end();
  }
}
