/**
 * CPU cost of the OpenAI-compatible translation (issue 22), in-process, against plain Anthropic relaying:
 *   - per request: JSON.parse + toChatCompletionsRequest + JSON.stringify of a Claude Code-sized request
 *     (system blocks, 24 turns with tool use and results, 12 tools), vs copying its bytes;
 *   - per answer: JSON.parse + fromChatCompletion + JSON.stringify of a text + two tool calls answer, vs a copy;
 *   - per streamed event: OpenAIStreamTranslator.push over a recorded-shape stream (text deltas, fragmented tool
 *     calls, usage, [DONE]), vs the relay's own SseScanner over the Anthropic stream it produced (what relaying
 *     an Anthropic stream costs already).
 * One core, warm JIT (2 s warm-up per case), median of 5 rounds of ~1 s.
 *
 *   node -r @swc-node/register bench/openai-translation.ts
 */
import { SseScanner } from '../src/protocol/sse-scanner';
import { toChatCompletionsRequest } from '../src/providers/openai/openai-request';
import { fromChatCompletion } from '../src/providers/openai/openai-response';
import { OpenAIStreamTranslator } from '../src/providers/openai/openai-stream';

function anthropicRequest(): object {
  const tools = Array.from({ length: 12 }, (_, i) => ({
    name: `tool_${i}`,
    description: 'Does one thing well. '.repeat(20),
    input_schema: {
      type: 'object',
      properties: {
        path: { type: 'string' },
        limit: { type: 'integer' },
        flags: { type: 'array', items: { type: 'string' } },
      },
      required: ['path'],
    },
  }));
  const messages: object[] = [{ role: 'user', content: 'Fix the failing test in src/app.ts. '.repeat(10) }];
  for (let i = 0; i < 11; i++) {
    messages.push({
      role: 'assistant',
      content: [
        { type: 'text', text: `Step ${i}: reading the file. ` },
        {
          type: 'tool_use',
          id: `toolu_${i}`,
          name: `tool_${i % 12}`,
          input: { path: `src/file_${i}.ts`, limit: 200 },
        },
      ],
    });
    messages.push({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: `toolu_${i}`, content: 'export const x = 1;\n'.repeat(60) },
      ],
    });
  }
  messages.push({ role: 'assistant', content: 'Done.' });
  messages.push({
    role: 'user',
    content: [{ type: 'text', text: 'Thanks', cache_control: { type: 'ephemeral' } }],
  });
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 8192,
    stream: true,
    system: [
      { type: 'text', text: 'You are Claude Code. '.repeat(200) },
      { type: 'text', text: 'Project instructions. '.repeat(100), cache_control: { type: 'ephemeral' } },
    ],
    tools,
    messages,
    metadata: { user_id: 'user_abc' },
  };
}

function openaiAnswer(): object {
  return {
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4.1',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'I will look at both files. '.repeat(20),
          refusal: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'read', arguments: '{"path":"src/a.ts","limit":200}' },
            },
            {
              id: 'call_2',
              type: 'function',
              function: { name: 'read', arguments: '{"path":"src/b.ts","limit":200}' },
            },
          ],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
      },
    ],
    usage: {
      prompt_tokens: 21000,
      completion_tokens: 150,
      total_tokens: 21150,
      prompt_tokens_details: { cached_tokens: 20480 },
    },
  };
}

/** An OpenAI stream: 300 text deltas, two tool calls in 12 fragments each, finish, usage, [DONE]. */
function openaiStream(): { bytes: Buffer; events: number } {
  const head =
    '"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","system_fingerprint":"fp_x"';
  const lines: string[] = [];
  const chunk = (delta: object, finish: string | null = null): void => {
    lines.push(
      `data: {${head},"choices":[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${JSON.stringify(finish)}}],"usage":null}\n\n`,
    );
  };
  chunk({ role: 'assistant', content: '' });
  for (let i = 0; i < 300; i++) chunk({ content: ' token' });
  for (const index of [0, 1]) {
    chunk({
      tool_calls: [
        { index, id: `call_${index}`, type: 'function', function: { name: 'read', arguments: '' } },
      ],
    });
    for (let i = 0; i < 12; i++)
      chunk({ tool_calls: [{ index, function: { arguments: i === 0 ? '{"p":"' : 'abcd' } }] });
    chunk({ tool_calls: [{ index, function: { arguments: '"}' } }] });
  }
  chunk({}, 'tool_calls');
  lines.push(
    `data: {${head},"choices":[],"usage":{"prompt_tokens":21000,"completion_tokens":330,"total_tokens":21330}}\n\n`,
  );
  lines.push('data: [DONE]\n\n');
  return { bytes: Buffer.from(lines.join('')), events: lines.length };
}

/** Splits bytes into network-sized chunks (~1.4 kB, as they arrive off a socket). */
function chunks(bytes: Buffer, size = 1400): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

/** Median µs of CPU per call of `fn` (process CPU time, user + system). */
function measure(fn: () => void): number {
  const run = (ms: number): number => {
    const start = process.cpuUsage();
    const t0 = Date.now();
    let n = 0;
    while (Date.now() - t0 < ms) {
      for (let i = 0; i < 20; i++) fn();
      n += 20;
    }
    const used = process.cpuUsage(start);
    return (used.user + used.system) / n;
  };
  run(2000);
  const rounds = Array.from({ length: 5 }, () => run(1000)).sort((a, b) => a - b);
  return rounds[2] ?? NaN;
}

let sink = 0;
const requestBytes = Buffer.from(JSON.stringify(anthropicRequest()));
const answerBytes = Buffer.from(JSON.stringify(openaiAnswer()));
const stream = openaiStream();
const streamChunks = chunks(stream.bytes);
const anthropicSse = (() => {
  const t = new OpenAIStreamTranslator('claude-sonnet-4-5');
  return Buffer.from(streamChunks.map((c) => t.push(c)).join('') + t.end());
})();
const anthropicChunks = chunks(anthropicSse);
const anthropicEvents = new SseScanner().push(anthropicSse).length;

const rows: [string, number, number, string][] = [];
const copyReq = measure(() => (sink += Buffer.from(requestBytes).length));
const translateReq = measure(() => {
  const body = toChatCompletionsRequest(JSON.parse(requestBytes.toString()) as object, 'gpt-4.1');
  sink += Buffer.byteLength(JSON.stringify(body));
});
rows.push([
  `request (${(requestBytes.length / 1024).toFixed(0)} kB), per request`,
  copyReq,
  translateReq,
  'copy of the bytes',
]);
const reparse = measure(() => (sink += JSON.stringify(JSON.parse(requestBytes.toString())).length));
rows.push(['request, JSON.parse + JSON.stringify alone', copyReq, reparse, 'copy of the bytes']);
const copyAns = measure(() => (sink += Buffer.from(answerBytes).length));
const translateAns = measure(() => {
  const message = fromChatCompletion(JSON.parse(answerBytes.toString()), 'claude-sonnet-4-5');
  sink += Buffer.byteLength(JSON.stringify(message));
});
rows.push([
  `JSON answer (${(answerBytes.length / 1024).toFixed(1)} kB), per answer`,
  copyAns,
  translateAns,
  'copy of the bytes',
]);
const scan = measure(() => {
  const s = new SseScanner();
  for (const c of anthropicChunks) sink += s.push(c).length;
});
const translateStream = measure(() => {
  const t = new OpenAIStreamTranslator('claude-sonnet-4-5');
  for (const c of streamChunks) sink += t.push(c).length;
  sink += t.end().length;
});
rows.push([
  `stream, per event (${stream.events} OpenAI / ${anthropicEvents} Anthropic events)`,
  scan / anthropicEvents,
  translateStream / stream.events,
  "SseScanner over the Anthropic stream (the relay's own scan)",
]);

console.log(`node ${process.version}; CPU µs per unit, median of 5 rounds`);
console.log('| what | baseline µs | translated µs | baseline is |');
console.log('| --- | ---: | ---: | --- |');
for (const [what, base, translated, baseline] of rows) {
  console.log(`| ${what} | ${base.toFixed(2)} | ${translated.toFixed(2)} | ${baseline} |`);
}
if (sink === 42) console.log('');
