import Anthropic from '@anthropic-ai/sdk';
import type {
  BetaContentBlockParam,
  BetaMessageParam,
  BetaToolUnion,
  MessageCreateParamsStreaming,
} from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

// Issue 18: the request sequence a Claude Code session really makes, replayed through the relay, every answer read
// by the official SDK's own accumulator (what Claude Code uses). The shapes are those Claude Code 2.1.197 sent
// through the relay to the fake upstream (captured with `npm run fake-upstream -- --log-bodies`): `?beta=true` on
// every Messages call, eight betas in one header, `x-app: cli`, adaptive thinking with an effort, context
// management, cache_control on the system prompt and the last user block, a mid-conversation `system` message,
// metadata.user_id as a JSON string, ~25 tools.

const MODEL = 'claude-sonnet-4-6';
const BETAS = [
  'claude-code-20250219',
  'context-1m-2025-08-07',
  'interleaved-thinking-2025-05-14',
  'thinking-token-count-2026-05-13',
  'context-management-2025-06-27',
  'prompt-caching-scope-2026-01-05',
  'mid-conversation-system-2026-04-07',
  'effort-2025-11-24',
];
const TOOL_NAMES = [
  'Task',
  'Bash',
  'Glob',
  'Grep',
  'ExitPlanMode',
  'Read',
  'Edit',
  'Write',
  'NotebookEdit',
  'WebFetch',
  'TodoWrite',
  'WebSearch',
  'BashOutput',
  'KillShell',
  'SlashCommand',
  'Skill',
  'AskUserQuestion',
  'mcp__ide__getDiagnostics',
  'mcp__ide__executeCode',
  'mcp__github__search_code',
  'mcp__github__get_file_contents',
  'mcp__github__create_issue',
  'mcp__github__list_pull_requests',
  'mcp__memory__read_graph',
  'mcp__memory__add_observations',
];
const TOOLS: BetaToolUnion[] = TOOL_NAMES.map((name) => ({
  name,
  description: `${name}: does what Claude Code's tool of that name does. `.repeat(8),
  input_schema: {
    type: 'object',
    properties: {
      path: { type: 'string', description: 'Absolute path' },
      limit: { type: 'number' },
      flags: { type: 'array', items: { type: 'string' } },
    },
    required: ['path'],
    additionalProperties: false,
    $schema: 'http://json-schema.org/draft-07/schema#',
  },
}));
const SYSTEM = [
  { type: 'text' as const, text: "You are Claude Code, Anthropic's official CLI for Claude." },
  {
    type: 'text' as const,
    text: 'You are an interactive CLI tool that helps users with software engineering tasks. '.repeat(40),
    cache_control: { type: 'ephemeral' as const },
  },
];
/** Claude Code's SDK asks for every beta endpoint with `?beta=true`. */
const BETA_QUERY = { query: { beta: 'true' } };
const SESSION = '6bbdb47b-efb7-40d8-ab13-3606a3ab3b40';
const USER_ID = JSON.stringify({ device_id: '7059da6a575042b7f962', account_uuid: '', session_id: SESSION });

/** The parameters of one streamed turn, as Claude Code builds them. */
function turnParams(messages: BetaMessageParam[]): MessageCreateParamsStreaming {
  return {
    model: MODEL,
    max_tokens: 64_000,
    stream: true,
    betas: BETAS,
    system: SYSTEM,
    tools: TOOLS,
    messages,
    metadata: { user_id: USER_ID },
    thinking: { type: 'adaptive' },
    context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
    output_config: { effort: 'high' },
  };
}

/** The last user message gets the cache breakpoint, as Claude Code marks it. */
function userTurn(text: string): BetaMessageParam {
  return { role: 'user', content: [{ type: 'text', text, cache_control: { type: 'ephemeral' } }] };
}

describe('a Claude Code session through the relay', () => {
  const fake = new FakeUpstream({ thinkingSigner: 'anthropic' });
  let relay: RunningRelay;
  let client: Anthropic;

  beforeAll(async () => {
    relay = await startRelay(
      rawConfig(await fake.start(), {
        providers: [
          { name: 'primary', type: 'anthropic', base_url: fake.url, keys: [{ key: PROVIDER_KEY }] },
        ],
      }),
    );
    client = new Anthropic({
      baseURL: relay.url,
      apiKey: CLIENT_KEY,
      maxRetries: 0,
      defaultHeaders: {
        'x-app': 'cli',
        'user-agent': 'claude-cli/2.1.197 (external, sdk-cli)',
        'x-claude-code-session-id': SESSION,
        'anthropic-dangerous-direct-browser-access': 'true',
        'anthropic-version': '2023-06-01',
      },
    });
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('replays a session: HEAD /, streamed turns, a non-streaming retry after a mid-stream error, count_tokens burst', async () => {
    // Claude Code checks the base URL is reachable before its first request: any answer will do but a hang or a
    // dropped connection, and it must not look like a server failure.
    const head = await fetch(`${relay.url}/`, { method: 'HEAD' });
    expect(head.status).toBeLessThan(500);
    expect(await head.text()).toBe('');

    // Turn 1 and 2: streamed, thinking on, read by the SDK's accumulator.
    // Claude Code 2.1 tells the model about its agents in a `system` message inside the conversation.
    const agents = { role: 'system', content: 'Available agent types for the Agent tool: …' };
    let history: BetaMessageParam[] = [
      userTurn('What does this repository do?'),
      agents as unknown as BetaMessageParam,
    ];
    for (let turn = 0; turn < 2; turn++) {
      const stream = client.beta.messages.stream(turnParams(history), BETA_QUERY);
      const message = await stream.finalMessage();
      expect(message.stop_reason).toBe('end_turn');
      expect(message.content.map((b) => b.type)).toEqual(['thinking', 'redacted_thinking', 'text']);
      expect(message.content[0]).toMatchObject({ type: 'thinking', signature: 'anthropic-sig' });
      history = [
        ...history,
        { role: 'assistant', content: message.content as BetaContentBlockParam[] },
        userTurn(`Follow-up ${turn}`),
      ];
    }
    const sent = fake.requests.filter((r) => r.path === '/v1/messages');
    expect(sent).toHaveLength(2);
    for (const r of sent) {
      expect(r.query).toBe('beta=true');
      expect(r.headers['anthropic-beta']).toBe(BETAS.join(','));
      expect(r.headers['x-app']).toBe('cli');
      expect(r.headers['anthropic-version']).toBe('2023-06-01');
      expect(r.headers['x-api-key']).toBe(PROVIDER_KEY);
    }
    // The history (signatures, cache_control, metadata, context_management) reaches the upstream as sent.
    const second = sent[1]!.body as Record<string, unknown>;
    expect(second.metadata).toEqual({ user_id: USER_ID });
    expect(second.context_management).toEqual({ edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] });
    expect((second.tools as unknown[]).length).toBe(TOOL_NAMES.length);

    // Turn 3: the stream breaks mid-answer; the SDK throws, Claude Code retries without streaming.
    fake.enqueue({ kind: 'error_event', afterEvents: 4 });
    const broken = client.beta.messages.stream(turnParams(history), BETA_QUERY);
    await expect(broken.finalMessage()).rejects.toThrow(Anthropic.APIError);
    const { stream: _stream, ...jsonParams } = turnParams(history);
    const retried = await client.beta.messages.create({ ...jsonParams, max_tokens: 21_333 }, BETA_QUERY);
    expect(retried.content.map((b) => b.type)).toEqual(['thinking', 'redacted_thinking', 'text']);
    expect(retried.stop_reason).toBe('end_turn');

    // A burst of count_tokens, as Claude Code sends for its context gauge.
    const counts = await Promise.all(
      Array.from({ length: 13 }, (_, i) =>
        client.beta.messages.countTokens(
          {
            model: MODEL,
            betas: BETAS,
            system: SYSTEM,
            tools: TOOLS.slice(0, 5 + i),
            messages: history,
            thinking: { type: 'adaptive' },
          },
          BETA_QUERY,
        ),
      ),
    );
    for (const c of counts) expect(c.input_tokens).toBeGreaterThan(0);
    const countRequests = fake.requests.filter((r) => r.path === '/v1/messages/count_tokens');
    expect(countRequests).toHaveLength(13);
    for (const r of countRequests) expect(r.query).toBe('beta=true');
  });
});
