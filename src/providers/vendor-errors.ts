import { errorBody, errorTypeOfStatus, type AnthropicErrorType } from '../protocol/relay-error';

/** An Anthropic error answer, as bytes. */
export function anthropicError(type: AnthropicErrorType, message: string): Buffer {
  return Buffer.from(JSON.stringify(errorBody(type, message)));
}

/** Whether a body is already Anthropic's error shape (Vertex and Bedrock pass some of Claude's own through). */
export function isAnthropicError(body: Buffer): boolean {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { type?: unknown };
    return parsed.type === 'error';
  } catch {
    return false;
  }
}

/** Google API status names → the Anthropic status and type they stand for. */
const GOOGLE_STATUS: Readonly<Record<string, { status: number; type: AnthropicErrorType }>> = {
  RESOURCE_EXHAUSTED: { status: 429, type: 'rate_limit_error' },
  UNAVAILABLE: { status: 529, type: 'overloaded_error' },
  DEADLINE_EXCEEDED: { status: 504, type: 'timeout_error' },
  INVALID_ARGUMENT: { status: 400, type: 'invalid_request_error' },
  FAILED_PRECONDITION: { status: 400, type: 'invalid_request_error' },
  NOT_FOUND: { status: 404, type: 'not_found_error' },
  PERMISSION_DENIED: { status: 403, type: 'permission_error' },
  UNAUTHENTICATED: { status: 401, type: 'authentication_error' },
  INTERNAL: { status: 500, type: 'api_error' },
};

/**
 * A Vertex AI error (`{"error":{"code","message","status"}}`, Google's shape) as Anthropic's: the status name
 * decides (RESOURCE_EXHAUSTED is a rate limit, UNAVAILABLE an overload…), else the HTTP status. Claude's own
 * errors, which Vertex passes through (an overloaded_error), stay as they are.
 */
export function vertexErrorAnswer(status: number, body: Buffer): { status: number; body: Buffer } {
  if (isAnthropicError(body)) return { status, body };
  let message = '';
  let mapped: { status: number; type: AnthropicErrorType } | undefined;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as
      | { error?: { message?: unknown; status?: unknown } }
      | Array<{ error?: { message?: unknown; status?: unknown } }>;
    const error = Array.isArray(parsed) ? parsed[0]?.error : parsed.error;
    if (typeof error?.message === 'string') message = error.message;
    if (typeof error?.status === 'string') mapped = GOOGLE_STATUS[error.status];
  } catch {
    message = body.toString('utf8', 0, 300).trim();
  }
  const out = mapped ?? { status, type: errorTypeOfStatus(status) };
  return { status: out.status, body: anthropicError(out.type, `Vertex AI: ${message || `HTTP ${status}`}`) };
}

/** Bedrock exception names (x-amzn-errortype, or an event stream's :exception-type) → Anthropic status and type. */
const BEDROCK_EXCEPTION: Readonly<Record<string, { status: number; type: AnthropicErrorType }>> = {
  throttlingexception: { status: 429, type: 'rate_limit_error' },
  servicequotaexceededexception: { status: 429, type: 'rate_limit_error' },
  serviceunavailableexception: { status: 529, type: 'overloaded_error' },
  modelnotreadyexception: { status: 529, type: 'overloaded_error' },
  modeltimeoutexception: { status: 504, type: 'timeout_error' },
  validationexception: { status: 400, type: 'invalid_request_error' },
  resourcenotfoundexception: { status: 404, type: 'not_found_error' },
  accessdeniedexception: { status: 403, type: 'permission_error' },
  // AWS's own authentication failures: the relay's credentials, a key problem.
  unrecognizedclientexception: { status: 401, type: 'authentication_error' },
  invalidsignatureexception: { status: 401, type: 'authentication_error' },
  expiredtokenexception: { status: 401, type: 'authentication_error' },
  incompletesignatureexception: { status: 401, type: 'authentication_error' },
  internalserverexception: { status: 500, type: 'api_error' },
  modelerrorexception: { status: 500, type: 'api_error' },
  modelstreamerrorexception: { status: 500, type: 'api_error' },
};

/** The Anthropic status and type of a Bedrock exception name (`ThrottlingException:http://…` accepted). */
export function bedrockException(
  name: string | undefined,
  status: number,
): { status: number; type: AnthropicErrorType } {
  const bare = (name ?? '').split(':')[0]!.trim().toLowerCase();
  return BEDROCK_EXCEPTION[bare] ?? { status, type: errorTypeOfStatus(status) };
}

/** A Bedrock error answer (`{"message"}` with the exception in x-amzn-errortype) as Anthropic's. */
export function bedrockErrorAnswer(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): { status: number; body: Buffer } {
  if (isAnthropicError(body)) return { status, body };
  const typeHeader = headers['x-amzn-errortype'];
  let name = Array.isArray(typeHeader) ? typeHeader[0] : typeHeader;
  let message = '';
  try {
    const parsed = JSON.parse(body.toString('utf8')) as {
      message?: unknown;
      Message?: unknown;
      __type?: unknown;
    };
    const m = parsed.message ?? parsed.Message;
    if (typeof m === 'string') message = m;
    if (name === undefined && typeof parsed.__type === 'string') name = parsed.__type.split('#').pop();
  } catch {
    message = body.toString('utf8', 0, 300).trim();
  }
  const mapped = bedrockException(name, status);
  const label = name?.split(':')[0];
  return {
    status: mapped.status,
    body: anthropicError(mapped.type, `Bedrock${label ? ` ${label}` : ''}: ${message || `HTTP ${status}`}`),
  };
}
