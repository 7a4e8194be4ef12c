/**
 * CPU cost of relaying through Bedrock (issue 22), in-process, against plain Anthropic relaying:
 *   - per request: the body rewrite Bedrock needs (JSON.parse, drop `model`/`stream`, add `anthropic_version`,
 *     JSON.stringify) and the SigV4 signature (its SHA-256 of the body included), vs copying the bytes;
 *   - per streamed event: BedrockEventStreamToSse (the AWS event stream decoded with @smithy/eventstream-codec,
 *     base64 and JSON of each chunk, written out as SSE) vs the relay's own SseScanner over the same events as
 *     Anthropic SSE (what relaying an Anthropic stream already does per event).
 * One core, warm JIT (2 s warm-up per case), median of 5 rounds of ~1 s.
 *
 *   node -r @swc-node/register bench/bedrock-decoding.ts
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { BedrockEventStreamToSse } from '../src/providers/bedrock-stream';
import { SseScanner } from '../src/protocol/sse-scanner';

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const nodeHash = () => Hash.bind(null, 'sha256');

/** A Claude Code-sized request (~31 kB): long system prompt, 24 turns with tool use, 12 tools. */
function anthropicRequest(): object {
  const tools = Array.from({ length: 12 }, (_, i) => ({
    name: `tool_${i}`,
    description: 'Does one thing well. '.repeat(20),
    input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
  }));
  const messages: object[] = [{ role: 'user', content: 'Fix the failing test in src/app.ts. '.repeat(10) }];
  for (let i = 0; i < 11; i++) {
    messages.push({
      role: 'assistant',
      content: [
        { type: 'text', text: `Step ${i}: reading the file. ` },
        { type: 'tool_use', id: `toolu_${i}`, name: `tool_${i % 12}`, input: { path: `src/f${i}.ts` } },
      ],
    });
    messages.push({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: `toolu_${i}`, content: 'export const x = 1;\n'.repeat(60) },
      ],
    });
  }
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 8192,
    stream: true,
    system: [{ type: 'text', text: 'You are Claude Code. '.repeat(200) }],
    tools,
    messages,
  };
}

/** The Anthropic events of a 300-delta text answer plus one tool call in 12 fragments. */
function anthropicEvents(): string[] {
  const events: object[] = [
    {
      type: 'message_start',
      message: {
        id: 'msg_bench',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 21000, output_tokens: 1 },
      },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  ];
  for (let i = 0; i < 300; i++)
    events.push({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' token' } });
  events.push({ type: 'content_block_stop', index: 0 });
  events.push({
    type: 'content_block_start',
    index: 1,
    content_block: { type: 'tool_use', id: 'toolu_1', name: 'read', input: {} },
  });
  for (let i = 0; i < 12; i++)
    events.push({
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: i === 0 ? '{"p":"' : 'abcd' },
    });
  events.push({ type: 'content_block_stop', index: 1 });
  events.push({
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null },
    usage: { output_tokens: 330 },
  });
  events.push({ type: 'message_stop' });
  return events.map((e) => JSON.stringify(e));
}

/** Bedrock's stream of those events: one `chunk` message each, `{"bytes": base64(event)}`. */
function bedrockStream(events: string[]): Buffer {
  const frames = events.map((json) =>
    codec.encode({
      headers: {
        ':message-type': { type: 'string', value: 'event' },
        ':event-type': { type: 'string', value: 'chunk' },
        ':content-type': { type: 'string', value: 'application/json' },
      },
      body: fromUtf8(JSON.stringify({ bytes: Buffer.from(json).toString('base64'), p: 'abcdefghij' })),
    }),
  );
  return Buffer.concat(frames.map((f) => Buffer.from(f)));
}

/** Splits bytes into network-sized chunks (~1.4 kB, as they arrive off a socket). */
function chunks(bytes: Buffer, size = 1400): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

/** Median µs of CPU per call of `fn` (process CPU time, user + system). */
async function measure(fn: () => unknown): Promise<number> {
  const run = async (ms: number): Promise<number> => {
    const start = process.cpuUsage();
    const t0 = Date.now();
    let n = 0;
    while (Date.now() - t0 < ms) {
      for (let i = 0; i < 10; i++) await fn();
      n += 10;
    }
    const used = process.cpuUsage(start);
    return (used.user + used.system) / n;
  };
  await run(2000);
  const rounds: number[] = [];
  for (let i = 0; i < 5; i++) rounds.push(await run(1000));
  rounds.sort((a, b) => a - b);
  return rounds[2] ?? NaN;
}

/** Runs the Transform synchronously over the chunks and returns the bytes it pushed. */
function decodeAll(stream: Buffer[]): number {
  const t = new BedrockEventStreamToSse();
  let out = 0;
  t.push = (data: unknown): boolean => {
    if (typeof data === 'string') out += data.length;
    return true;
  };
  for (const c of stream)
    t._transform(c, 'binary', (err) => {
      if (err) throw err;
    });
  return out;
}

async function main(): Promise<void> {
  let sink = 0;
  const requestBytes = Buffer.from(JSON.stringify(anthropicRequest()));
  const events = anthropicEvents();
  const sse = Buffer.from(
    events.map((json) => `event: ${(JSON.parse(json) as { type: string }).type}\ndata: ${json}\n\n`).join(''),
  );
  const sseChunks = chunks(sse);
  const bedrockChunks = chunks(bedrockStream(events));
  if (decodeAll(bedrockChunks) !== sse.length)
    throw new Error('the decoded stream differs from the Anthropic SSE');

  const signerWith = (sha256: typeof Sha256 | ReturnType<typeof nodeHash>) =>
    new SignatureV4({
      credentials: { accessKeyId: 'AKIDBENCHEXAMPLE', secretAccessKey: 'bench-secret-key-0123456789' },
      region: 'us-east-1',
      service: 'bedrock',
      sha256,
    });
  // What the relay signs with (Node's crypto, as src/providers/bedrock-adapter.ts) and the pure-JS hash before it.
  const signer = signerWith(nodeHash());
  const pureJsSigner = signerWith(Sha256);
  const rewrite = (): string => {
    const body = JSON.parse(requestBytes.toString('utf8')) as Record<string, unknown>;
    delete body.model;
    delete body.stream;
    body.anthropic_version = 'bedrock-2023-05-31';
    return JSON.stringify(body);
  };
  const sign = (body: string, by = signer) =>
    by.sign({
      method: 'POST',
      protocol: 'https:',
      hostname: 'bedrock-runtime.us-east-1.amazonaws.com',
      path: '/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream',
      headers: { host: 'bedrock-runtime.us-east-1.amazonaws.com', 'content-type': 'application/json' },
      body,
    });

  const rows: [string, number, number, string][] = [];
  const copy = await measure(() => (sink += Buffer.from(requestBytes).length));
  rows.push([
    `request (${(requestBytes.length / 1024).toFixed(0)} kB): body rewrite`,
    copy,
    await measure(() => (sink += rewrite().length)),
    'copy of the bytes',
  ]);
  const body = rewrite();
  rows.push([
    'request: SigV4 signature (SHA-256 of the body included)',
    copy,
    await measure(async () => (sink += Object.keys((await sign(body)).headers).length)),
    'copy of the bytes',
  ]);
  rows.push([
    'request: SigV4 with the pure-JS SHA-256 (@aws-crypto/sha256-js, before)',
    copy,
    await measure(async () => (sink += Object.keys((await sign(body, pureJsSigner)).headers).length)),
    'copy of the bytes',
  ]);
  const scan = await measure(() => {
    const s = new SseScanner();
    for (const c of sseChunks) sink += s.push(c).length;
  });
  const decode = await measure(() => (sink += decodeAll(bedrockChunks)));
  rows.push([
    `stream, per event (${events.length} events)`,
    scan / events.length,
    decode / events.length,
    "SseScanner over the same events as Anthropic SSE (the relay's own scan)",
  ]);

  console.log(`node ${process.version}; CPU µs per unit, median of 5 rounds`);
  console.log('| what | baseline µs | Bedrock µs | baseline is |');
  console.log('| --- | ---: | ---: | --- |');
  for (const [what, base, bedrock, baseline] of rows) {
    console.log(`| ${what} | ${base.toFixed(2)} | ${bedrock.toFixed(2)} | ${baseline} |`);
  }
  if (sink === 42) console.log('');
}

void main();
