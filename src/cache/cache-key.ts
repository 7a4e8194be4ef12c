import { hash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';

/**
 * The response-cache key and the "may this be cached" decisions (issue 5 item 4, protocol doc §4).
 * Pure: no I/O, no clock. The key is a SHA-256 of a canonical form of the request, so the same request
 * written with its object keys in another order, with `content` as a string instead of one text block,
 * or with other `cache_control` hints, lands on the same entry.
 */

/** Bumped whenever the canonical form changes, so old entries are simply never read again. */
export const CACHE_KEY_VERSION = 'v1';

/** What the cache key is computed from. */
export interface CacheKeyInput {
  path: 'messages' | 'count_tokens';
  /** The parsed JSON request body, as the client sent it. */
  body: unknown;
  /**
   * The model the client asked for. Providers' model_mapping is configuration shared by every request, so it
   * needs no place in the key; an answer from a fallback model is never stored under it (ResponseCache.mayStore).
   */
  resolvedModel: string;
  anthropicVersion?: string;
  /** The raw `anthropic-beta` header (comma-separated). */
  anthropicBeta?: string;
  /** A hash of the relay client key (computed by the caller); undefined only in shared mode. */
  clientScope?: string;
}

// Dropped from the key: they never change the answer. `model` is replaced by the resolved model.
// metadata.user_id is a per-session id in Claude Code: keying on it would stop every cross-session hit.
const EXCLUDED_TOP_LEVEL = new Set(['model', 'stream', 'metadata', 'cache_control', 'diagnostics']);

const PATH_TAG = { messages: 'msg', count_tokens: 'ct' } as const satisfies Record<
  CacheKeyInput['path'],
  string
>;

// Sorted object keys at every depth; arrays keep their order. A cycle cannot come from JSON.parse, so throw.
const canonicalJson = configure({ deterministic: true, circularValue: TypeError, bigint: false });

/** The cache key of a request: `v1:msg:<sha256 hex>` or `v1:ct:<sha256 hex>`. */
export function cacheKey(input: CacheKeyInput): string {
  const canonical = {
    path: input.path,
    model: input.resolvedModel,
    body: canonicalBody(input.body),
    anthropic_version: input.anthropicVersion ?? null,
    anthropic_beta: betaSet(input.anthropicBeta),
    scope: input.clientScope ?? null,
  };
  const json = canonicalJson(canonical) ?? '';
  const digest = hash('sha256', json, 'hex'); // one-shot: no Hash object per request
  return `${CACHE_KEY_VERSION}:${PATH_TAG[input.path]}:${digest}`;
}

/** The sorted, de-duplicated list of `anthropic-beta` values (the header is a set, its order is noise). */
export function betaSet(header: string | undefined): string[] {
  if (header === undefined) return [];
  const values = header
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  return [...new Set(values)].sort();
}

/**
 * The body as it enters the hash. Unknown top-level fields are kept on purpose: a field we do not know
 * may change the answer, and a spurious miss is cheap while a wrong hit is not.
 */
function canonicalBody(body: unknown): unknown {
  if (!isRecord(body)) return body;
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(body)) {
    if (EXCLUDED_TOP_LEVEL.has(field) || value === undefined) continue;
    out[field] = canonicalField(field, value);
  }
  return out;
}

function canonicalField(field: string, value: unknown): unknown {
  switch (field) {
    case 'system':
      return canonicalContent(value);
    case 'messages':
      return Array.isArray(value) ? value.map(canonicalMessage) : value;
    case 'tools':
      // cache_control on a tool definition is a prompt-cache hint; the schema under it is left untouched
      // (a property that happens to be named cache_control in an input_schema is real content).
      return Array.isArray(value) ? value.map(withoutCacheControl) : value;
    default:
      return value;
  }
}

function canonicalMessage(message: unknown): unknown {
  if (!isRecord(message)) return message;
  const out: Record<string, unknown> = { ...message };
  if ('content' in out) out.content = canonicalContent(out.content);
  return out;
}

/** `"str"` and `[{type:"text",text:"str"}]` are the same prompt to the API. */
function canonicalContent(content: unknown): unknown {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return content;
  return content.map(canonicalBlock);
}

function canonicalBlock(block: unknown): unknown {
  const out = withoutCacheControl(block);
  if (!isRecord(out)) return out;
  // tool_result (and search_result-like) blocks nest content of their own, string or blocks.
  if (out.type === 'tool_result' && 'content' in out) out.content = canonicalContent(out.content);
  return out;
}

/** A shallow copy without the prompt-cache hint (copied, so the caller's body is never modified). */
function withoutCacheControl(value: unknown): unknown {
  if (!isRecord(value)) return value;
  const { cache_control: _hint, ...rest } = value;
  return rest;
}

// Tool definitions executed by the client (no side effect on Anthropic's side): custom tools have no
// `type` or `type: "custom"`; the Anthropic-defined client tools are versioned by suffix.
const CLIENT_TOOL_PREFIXES = ['bash_', 'text_editor_', 'computer_', 'memory_'];

/**
 * Whether a request may be answered from or stored in the cache at all: no server tools, no `container`,
 * no `mcp_servers` (they have side effects or state outside the prompt, protocol doc §4.2).
 */
export function isCacheableRequest(body: unknown): boolean {
  if (!isRecord(body)) return false;
  if (body.container !== undefined && body.container !== null) return false;
  if (Array.isArray(body.mcp_servers) ? body.mcp_servers.length > 0 : body.mcp_servers != null) return false;
  if (body.tools === undefined || body.tools === null) return true;
  if (!Array.isArray(body.tools)) return false;
  return body.tools.every(isClientTool);
}

function isClientTool(tool: unknown): boolean {
  if (!isRecord(tool)) return false;
  const type = tool.type;
  if (type === undefined || type === null || type === 'custom') return true;
  return typeof type === 'string' && CLIENT_TOOL_PREFIXES.some((p) => type.startsWith(p));
}

// Only answers that ended on their own. pause_turn (server tool loop to be continued), max_tokens and
// model_context_window_exceeded (truncated), refusal, and any stop reason we do not know yet stay out.
const COMPLETE_STOP_REASONS = new Set(['end_turn', 'stop_sequence', 'tool_use']);

/** Whether a `/v1/messages` answer (JSON, or a stream folded into a message) is complete enough to store. */
export function isCacheableResponse(message: unknown): boolean {
  if (!isRecord(message)) return false;
  if (message.type !== 'message' || !Array.isArray(message.content)) return false;
  return typeof message.stop_reason === 'string' && COMPLETE_STOP_REASONS.has(message.stop_reason);
}

/** Whether a `count_tokens` answer can be stored: it is deterministic once it carries a token count. */
export function isCacheableCountTokensResponse(body: unknown): boolean {
  return isRecord(body) && typeof body.input_tokens === 'number' && Number.isFinite(body.input_tokens);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
