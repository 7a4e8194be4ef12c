import { Transform, type TransformCallback } from 'node:stream';
import { errorJson } from '../protocol/error-writer';
import { providerBaseUrl } from '../config/provider-defaults';
import type { ProbeKind, ProviderConfig } from '../config/relay-config';
import { PROBE_USER_AGENT, type ProbeRequest } from './probe-request';
import { errorInAnswer, mapOpenAIError, type MappedError } from './openai/openai-errors';
import { toChatCompletionsRequest } from './openai/openai-request';
import { fromChatCompletion } from './openai/openai-response';
import { OpenAIStreamTranslator } from './openai/openai-stream';
import {
  type AdaptedCall,
  type AdapterRequest,
  type ProviderAdapter,
  type ResponseTranslation,
} from './provider-adapter';
import { anthropicError } from './vendor-errors';

/** An Anthropic error answer of a mapped OpenAI error. */
function errorAnswerOf(mapped: MappedError): { status: number; body: Buffer } {
  // Built here: billing_error (insufficient_quota) is an Anthropic error type the relay itself never makes.
  return {
    status: mapped.status,
    body: Buffer.from(errorJson(mapped.type, mapped.message)),
  };
}

/** An OpenAI error status (and body) as Anthropic's; insufficient_quota is a 402 billing_error, not a 429. */
export function openaiErrorAnswer(
  status: number,
  _headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): { status: number; body: Buffer } {
  return errorAnswerOf(mapOpenAIError(status, body));
}

/** A 2xx Chat Completions answer as an Anthropic message (or the error some gateways answer with a 200). */
export function openaiJsonAnswer(body: Buffer, clientModel: string): { status: number; body: Buffer } {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return {
      status: 502,
      body: anthropicError('api_error', 'the OpenAI-compatible provider answered a body that is not JSON'),
    };
  }
  const error = errorInAnswer(json);
  if (error) return errorAnswerOf(error);
  return { status: 200, body: Buffer.from(JSON.stringify(fromChatCompletion(json, clientModel))) };
}

/**
 * A streamed Chat Completions answer as Anthropic SSE, chunk by chunk as it comes (never buffered to the end). An
 * end without `data: [DONE]` becomes an `event: error`: a truncated answer never looks complete.
 */
export class OpenAIStreamToSse extends Transform {
  private readonly translator: OpenAIStreamTranslator;

  constructor(clientModel: string) {
    super();
    this.translator = new OpenAIStreamTranslator(clientModel);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out = this.translator.push(chunk);
    if (out !== '') this.push(out);
    done();
  }

  override _flush(done: TransformCallback): void {
    const out = this.translator.end();
    if (out !== '') this.push(out);
    done();
  }
}

/**
 * An OpenAI Chat Completions endpoint (OpenAI, Gemini's OpenAI-compatible endpoint, DeepSeek, OpenRouter, vLLM,
 * LiteLLM…): the Anthropic request becomes `POST {base_url}/chat/completions` with the pool key as
 * `Authorization: Bearer` (no key: no credentials; a client's own are never forwarded), and the answer, JSON or
 * stream, is translated back (docs/openai-compatible.md). count_tokens has no counterpart: it is refused as
 * unsupported, so the attempt loop asks the next provider.
 */
export class OpenAIAdapter implements ProviderAdapter {
  readonly translation: ResponseTranslation = { errorAnswer: openaiErrorAnswer };
  private readonly baseUrl: string;

  constructor(private readonly config: ProviderConfig) {
    this.baseUrl = providerBaseUrl(config);
  }

  prepare(req: AdapterRequest): Promise<AdaptedCall> {
    if (req.endpoint === 'count_tokens') {
      return Promise.resolve({
        kind: 'refuse',
        status: 404,
        body: errorJson(
          'not_found_error',
          `provider "${this.config.name}" (OpenAI-compatible) serves no count_tokens`,
        ),
      });
    }
    const anthropic = JSON.parse(
      typeof req.body === 'string' ? req.body : req.body.toString('utf8'),
    ) as object;
    const body = JSON.stringify(toChatCompletionsRequest(anthropic, req.model));
    const headers: string[] = [
      'content-type',
      'application/json',
      'accept',
      req.stream ? 'text/event-stream' : 'application/json',
      'accept-encoding',
      'identity',
      'x-request-id',
      req.requestId,
    ];
    if (req.key !== undefined) headers.push('authorization', `Bearer ${req.key}`);
    const ua = req.clientHeaders['user-agent'];
    if (typeof ua === 'string') headers.push('user-agent', ua);
    const clientModel = req.clientModel ?? req.model;
    return Promise.resolve({
      kind: 'send',
      pathAndQuery: '/chat/completions',
      headers,
      body,
      translation: {
        ...this.translation,
        json: (answer) => openaiJsonAnswer(answer, clientModel),
        stream: () => new OpenAIStreamToSse(clientModel),
      },
    });
  }

  /** `GET {base_url}/models` with the first key: authenticated, no tokens spent, whatever kind is configured. */
  probe(_kind: ProbeKind): Promise<ProbeRequest> {
    const key = this.config.keys[0]?.key;
    return Promise.resolve({
      provider: this.config.name,
      kind: 'models',
      method: 'GET',
      url: `${this.baseUrl}/models`,
      headers: {
        accept: 'application/json',
        'user-agent': PROBE_USER_AGENT,
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
      },
    });
  }
}
