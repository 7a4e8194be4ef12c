import { errorJson } from '../protocol/error-writer';
import { errorTypeOfStatus, STATUS_OF_ERROR_TYPE, type AnthropicErrorType } from '../protocol/relay-error';

/** An Anthropic error answer, as bytes. */
export function anthropicError(type: AnthropicErrorType, message: string): Buffer {
  return Buffer.from(errorJson(type, message));
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

/** Google API status names → the Anthropic error type they stand for (its status from STATUS_OF_ERROR_TYPE). */
const GOOGLE_STATUS: Readonly<Record<string, AnthropicErrorType>> = {
  RESOURCE_EXHAUSTED: 'rate_limit_error',
  UNAVAILABLE: 'overloaded_error',
  DEADLINE_EXCEEDED: 'timeout_error',
  INVALID_ARGUMENT: 'invalid_request_error',
  FAILED_PRECONDITION: 'invalid_request_error',
  NOT_FOUND: 'not_found_error',
  PERMISSION_DENIED: 'permission_error',
  UNAUTHENTICATED: 'authentication_error',
  INTERNAL: 'api_error',
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
    const name = error?.status;
    const type =
      typeof name === 'string' && Object.hasOwn(GOOGLE_STATUS, name) ? GOOGLE_STATUS[name] : undefined;
    if (type !== undefined) mapped = { status: STATUS_OF_ERROR_TYPE[type], type };
  } catch {
    message = body.toString('utf8', 0, 300).trim();
  }
  const out = mapped ?? { status, type: errorTypeOfStatus(status) };
  return { status: out.status, body: anthropicError(out.type, `Vertex AI: ${message || `HTTP ${status}`}`) };
}

/**
 * Bedrock exception names (x-amzn-errortype, or an event stream's :exception-type) → the Anthropic error type they
 * stand for (its status from STATUS_OF_ERROR_TYPE).
 */
const BEDROCK_EXCEPTION: Readonly<Record<string, AnthropicErrorType>> = {
  throttlingexception: 'rate_limit_error',
  servicequotaexceededexception: 'rate_limit_error',
  serviceunavailableexception: 'overloaded_error',
  modelnotreadyexception: 'overloaded_error',
  modeltimeoutexception: 'timeout_error',
  validationexception: 'invalid_request_error',
  resourcenotfoundexception: 'not_found_error',
  accessdeniedexception: 'permission_error',
  // AWS's own authentication failures: the relay's credentials, a key problem.
  unrecognizedclientexception: 'authentication_error',
  invalidsignatureexception: 'authentication_error',
  expiredtokenexception: 'authentication_error',
  incompletesignatureexception: 'authentication_error',
  internalserverexception: 'api_error',
  modelerrorexception: 'api_error',
  modelstreamerrorexception: 'api_error',
};

/** The Anthropic status and type of a Bedrock exception name (`ThrottlingException:http://…` accepted). */
export function bedrockException(
  name: string | undefined,
  status: number,
): { status: number; type: AnthropicErrorType } {
  const bare = (name ?? '').split(':')[0]!.trim().toLowerCase();
  const type = Object.hasOwn(BEDROCK_EXCEPTION, bare) ? BEDROCK_EXCEPTION[bare] : undefined;
  return type === undefined
    ? { status, type: errorTypeOfStatus(status) }
    : { status: STATUS_OF_ERROR_TYPE[type], type };
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
