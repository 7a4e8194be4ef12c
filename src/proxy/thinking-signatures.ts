import { Transform, type TransformCallback } from 'node:stream';
import type { ProviderType } from '../config/relay-config';

/**
 * Thinking blocks across vendors. Every vendor signs the thinking blocks it writes (`signature` of a `thinking`
 * block, `data` of a `redacted_thinking` block) and rejects, on a later turn, a block it did not sign (400 "Invalid
 * signature in thinking block"). A conversation that fails over from Anthropic to z.ai, or back, carries the other
 * vendor's blocks. So the relay
 * - tags what a non-Claude-platform provider signs on its way to the client: `ccr1.<provider type>.<original>`
 *   (Claude platform signatures pass untouched, so a relay-less client sees nothing new);
 * - before sending a request to provider P, drops the thinking blocks P did not sign (tagged by another vendor, or
 *   untagged = Anthropic's when P is not Anthropic) and untags the ones tagged for P's own type.
 * The vendor's own reasoning stays with it; the other turns of the conversation (text, tool use) are kept.
 */

/** Prefix of a tagged signature (versioned, so the format may change without misreading old conversations). */
export const SIGNATURE_TAG = 'ccr1.';

/** Provider types whose signatures are Anthropic's own: its API and the clouds that serve Claude (issue 22). */
const CLAUDE_PLATFORM: ReadonlySet<ProviderType> = new Set<ProviderType>([
  'anthropic',
  'azure',
  'vertex',
  'bedrock',
]);

/** Whether a provider of this type signs thinking blocks as Anthropic does (its signatures go out untagged). */
export function signsAsClaude(type: ProviderType): boolean {
  return CLAUDE_PLATFORM.has(type);
}

/** The tag the relay puts on this type's signatures, or undefined for the Claude platform (no tag). */
export function signatureTagOf(type: ProviderType): string | undefined {
  return signsAsClaude(type) ? undefined : `${SIGNATURE_TAG}${type}.`;
}

/** A tagged value split into its vendor and the vendor's own value; undefined when untagged. */
function untag(value: string): { vendor: string; original: string } | undefined {
  if (!value.startsWith(SIGNATURE_TAG)) return undefined;
  const dot = value.indexOf('.', SIGNATURE_TAG.length);
  if (dot < 0) return undefined;
  return { vendor: value.slice(SIGNATURE_TAG.length, dot), original: value.slice(dot + 1) };
}

/** The signed field of a thinking block, or undefined when the block is no thinking block. */
function signedField(block: Record<string, unknown>): 'signature' | 'data' | undefined {
  if (block.type === 'thinking') return 'signature';
  if (block.type === 'redacted_thinking') return 'data';
  return undefined;
}

type Block = Record<string, unknown>;

/**
 * What a thinking block becomes on its way to a provider of `type`: `drop` (another vendor signed it), `keep`, or
 * a copy carrying the vendor's own untagged value.
 */
function inbound(block: Block, field: 'signature' | 'data', type: ProviderType): 'drop' | 'keep' | Block {
  const value = block[field];
  // An unsigned block is valid nowhere that checks signatures.
  if (typeof value !== 'string' || value.length === 0) return 'drop';
  const tagged = untag(value);
  if (!tagged) return signsAsClaude(type) ? 'keep' : 'drop';
  if (tagged.vendor !== type) return 'drop';
  return { ...block, [field]: tagged.original };
}

/** Stands in for an assistant turn that held nothing but another vendor's thinking (empty content is refused). */
export const OMITTED_THINKING_TEXT = '(thinking omitted)';

const TAG_BYTES = Buffer.from(SIGNATURE_TAG);
const SIGNATURE_KEY_BYTES = Buffer.from('"signature"');
const REDACTED_BYTES = Buffer.from('redacted_thinking');

/** Whether `raw` holds `needle`; a Buffer is searched for the needle's bytes, made once (a string needle is encoded on every search). */
function contains(raw: Buffer | string, needle: string, bytes: Buffer): boolean {
  return typeof raw === 'string' ? raw.includes(needle) : raw.indexOf(bytes) !== -1;
}

/**
 * The request body to send a provider of `type`: thinking blocks it did not sign are dropped from the assistant
 * turns, its own tagged ones untagged. Returns `raw` itself (byte for byte) when nothing had to change, which a
 * substring check decides without parsing for nearly every request.
 */
export function bodyForProvider(raw: Buffer | string, type: ProviderType): Buffer | string {
  // Claude platform: only tagged blocks need work. Others: any signed block.
  if (signsAsClaude(type)) {
    if (!contains(raw, SIGNATURE_TAG, TAG_BYTES)) return raw;
  } else if (
    !contains(raw, '"signature"', SIGNATURE_KEY_BYTES) &&
    !contains(raw, 'redacted_thinking', REDACTED_BYTES)
  ) {
    return raw;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return raw; // the upstream answers an unreadable body itself
  }
  return stripForeignThinking(parsed, type) ? JSON.stringify(parsed) : raw;
}

/**
 * Rewrites a parsed request body in place for a provider of `type` (see bodyForProvider); returns whether it
 * changed anything.
 */
export function stripForeignThinking(body: unknown, type: ProviderType): boolean {
  const messages = (body as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) return false;
  let changed = false;
  let lastAssistantStripped = false;
  for (let m = 0; m < messages.length; m++) {
    const message = messages[m] as { role?: unknown; content?: unknown } | null;
    if (message?.role !== 'assistant') continue;
    lastAssistantStripped = false;
    if (!Array.isArray(message.content)) continue;
    const content = message.content as unknown[];
    let out: unknown[] | undefined;
    let stripped = false;
    for (let i = 0; i < content.length; i++) {
      const block = content[i] as Block | null;
      const field = block && typeof block === 'object' ? signedField(block) : undefined;
      const fate = field ? inbound(block!, field, type) : 'keep';
      if (fate === 'keep') {
        out?.push(block);
        continue;
      }
      out ??= content.slice(0, i);
      if (fate === 'drop') stripped = true;
      else out.push(fate);
    }
    if (out) {
      if (out.length === 0) out.push({ type: 'text', text: OMITTED_THINKING_TEXT });
      message.content = out;
      changed = true;
    }
    lastAssistantStripped = stripped;
  }
  if (lastAssistantStripped && inToolLoop(messages) && dropThinkingConfig(body as Block)) changed = true;
  return changed;
}

/** Whether the conversation ends with tool results: the model is in the middle of a turn (a tool-use loop). */
function inToolLoop(messages: unknown[]): boolean {
  const last = messages.at(-1) as { role?: unknown; content?: unknown } | undefined;
  if (last?.role !== 'user' || !Array.isArray(last.content)) return false;
  return last.content.some((b) => (b as Block | null)?.type === 'tool_result');
}

/**
 * With thinking on, Anthropic requires the last assistant turn of a tool-use loop to start with a thinking block.
 * When the relay had to drop that block (another vendor signed it), this one request goes without thinking, and
 * without the context edits that need it; the next turn starts afresh with it.
 */
function dropThinkingConfig(body: Block): boolean {
  const thinking = body.thinking as { type?: unknown } | undefined;
  if (!thinking || thinking.type === 'disabled') return false;
  delete body.thinking;
  const cm = body.context_management as { edits?: unknown } | undefined;
  if (cm && Array.isArray(cm.edits)) {
    const edits = cm.edits.filter((e) => {
      const type = (e as Block | null)?.type;
      return !(typeof type === 'string' && type.startsWith('clear_thinking'));
    });
    if (edits.length === 0) delete body.context_management;
    else cm.edits = edits;
  }
  return true;
}

/** Tags a content block's signature in place; returns whether it did. */
function tagBlock(block: unknown, tag: string): boolean {
  if (!block || typeof block !== 'object') return false;
  const b = block as Block;
  const field = signedField(b);
  if (!field) return false;
  const value = b[field];
  if (typeof value === 'string' && value.startsWith(SIGNATURE_TAG)) return false;
  if (field === 'signature') {
    // A vendor that does not sign (a local model) still gets its tag, so its blocks are known as its own later:
    // untagged, they would pass for Anthropic's and be refused there. A signature_delta replaces it when it comes.
    b[field] = tag + (typeof value === 'string' ? value : '');
    return true;
  }
  if (typeof value !== 'string' || value.length === 0) return false;
  b[field] = tag + value;
  return true;
}

function tagContent(content: unknown, tag: string): boolean {
  if (!Array.isArray(content)) return false;
  let changed = false;
  for (const block of content) if (tagBlock(block, tag)) changed = true;
  return changed;
}

/**
 * A provider's JSON answer (a Message) with its thinking signatures tagged (`tag` from signatureTagOf). Returns
 * `body` itself when there was nothing to tag.
 */
export function tagJsonAnswer(body: Buffer, tag: string): Buffer {
  // `thinking"` ends both block types' names (and the key of an unsigned block's text).
  if (!body.includes('thinking"')) return body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  if (!tagContent((parsed as { content?: unknown } | null)?.content, tag)) return body;
  return Buffer.from(JSON.stringify(parsed));
}

/** One SSE event's data with its signatures tagged, or undefined when it has none. */
export function tagEventData(data: string, tag: string): string | undefined {
  let ev: Record<string, unknown>;
  try {
    ev = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!ev || typeof ev !== 'object') return undefined;
  let changed = false;
  if (ev.type === 'content_block_start') changed = tagBlock(ev.content_block, tag);
  else if (ev.type === 'message_start') {
    changed = tagContent((ev.message as { content?: unknown } | undefined)?.content, tag);
  } else if (ev.type === 'content_block_delta') {
    const delta = ev.delta as Block | undefined;
    if (delta?.type === 'signature_delta' && typeof delta.signature === 'string' && delta.signature) {
      if (!delta.signature.startsWith(SIGNATURE_TAG)) {
        delta.signature = tag + delta.signature;
        changed = true;
      }
    }
  }
  return changed ? JSON.stringify(ev) : undefined;
}

/** What the lines worth parsing contain: a signature, or a block start (once per block, thinking or not). */
const NEEDLES = [Buffer.from('"signature'), Buffer.from('content_block_start'), Buffer.from('message_start')];
const LINE_ENDS = /(\r\n|\r|\n)/;
/** A line longer than this is passed on unread (signatures are a few KiB), so memory stays bounded. */
const MAX_HELD_BYTES = 1024 * 1024;

/**
 * Tags the signatures of an SSE stream on the fly. Bytes pass unchanged up to the last line end of each chunk
 * (the rest waits for its line end); only `data:` lines of events carrying a signature are rewritten.
 */
export class SseSignatureTagger extends Transform {
  private held: Buffer | undefined;

  constructor(private readonly tag: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = this.held ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = undefined;
    const end = Math.max(buf.lastIndexOf(0x0a), buf.lastIndexOf(0x0d)) + 1;
    if (end === 0 && buf.length <= MAX_HELD_BYTES) {
      this.held = buf;
      return done();
    }
    const upTo = end === 0 ? buf.length : end;
    if (upTo < buf.length) this.held = buf.subarray(upTo);
    done(null, this.rewrite(upTo === buf.length ? buf : buf.subarray(0, upTo)));
  }

  override _flush(done: TransformCallback): void {
    const rest = this.held;
    this.held = undefined;
    done(null, rest ? this.rewrite(rest) : undefined);
  }

  private rewrite(lines: Buffer): Buffer {
    if (!NEEDLES.some((n) => lines.includes(n))) return lines;
    const parts = lines.toString('utf8').split(LINE_ENDS);
    let changed = false;
    for (let i = 0; i < parts.length; i += 2) {
      const line = parts[i]!;
      if (!line.startsWith('data:')) continue;
      const data = line.slice(line.startsWith('data: ') ? 6 : 5);
      const tagged = tagEventData(data, this.tag);
      if (tagged === undefined) continue;
      parts[i] = `data: ${tagged}`;
      changed = true;
    }
    return changed ? Buffer.from(parts.join('')) : lines;
  }
}

/** Strategies whose order is only a way to spread load: there a conversation may stay with its thinking's signer. */
const AFFINITY_STRATEGIES: ReadonlySet<string> = new Set([
  'round_robin',
  'weighted_round_robin',
  'shuffle',
  'least_loaded',
]);

/**
 * The provider type that signed the conversation's latest thinking block (`anthropic` for an untagged signature),
 * or undefined when it has none. A byte scan for the last `"signature"` key, no parse: a hint, not a verdict.
 */
export function lastSigner(raw: Buffer | string): string | undefined {
  const key = '"signature"';
  const at = typeof raw === 'string' ? raw.lastIndexOf(key) : raw.lastIndexOf(key);
  if (at < 0) return undefined;
  const from = at + key.length;
  // Enough for the separator and a tag (`ccr1.<type>.`); the signature itself is not needed.
  const after = typeof raw === 'string' ? raw.slice(from, from + 64) : raw.toString('utf8', from, from + 64);
  const value = /^\s*:\s*"([^"]*)/.exec(after)?.[1];
  if (!value) return undefined;
  return untag(value)?.vendor ?? 'anthropic';
}

/**
 * Affinity: with a load-spreading strategy, the candidates of the type that signed the conversation's latest
 * thinking block go first (within each model of the plan), so a healthy signer keeps its conversation and its
 * reasoning. Failover and model routes keep their order: there the operator's preference wins, and a conversation
 * returns to the primary once it is back.
 */
export function withSignerAffinity<T extends { provider: string; fallbackIndex: number }>(
  plan: T[],
  raw: Buffer | string,
  strategy: string,
  typeOf: (provider: string) => string | undefined,
): T[] {
  if (plan.length < 2 || !AFFINITY_STRATEGIES.has(strategy)) return plan;
  const signer = lastSigner(raw);
  if (!signer) return plan;
  const rank = (s: T) => s.fallbackIndex * 2 + (typeOf(s.provider) === signer ? 0 : 1);
  // Array#sort is stable: the strategy's order holds within each rank.
  return plan
    .map((s, i) => ({ s, i, r: rank(s) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.s);
}
