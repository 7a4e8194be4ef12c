/**
 * The per-event cost of reading a relayed stream: the general SseScanner + StreamProgress.observe (what the relay
 * used before issue 23) against the relay's EventScanner + observeEvent, over one 505-event answer (500
 * content_block_delta events) in one chunk or one chunk per event (EACH=1). In-process, no sockets.
 *
 *   node -r @swc-node/register bench/stream-scan.ts                  # time, both scanners, ns per event
 *   SCANNER=old|new CG=1 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/scan.out \
 *     node -r @swc-node/register bench/stream-scan.ts                # instructions: sum `summary` of the outputs,
 *                                                                    # / (100 × 505) per event
 */
import { execSync } from 'node:child_process';
import { SseScanner } from '../src/protocol/sse-scanner';
import { EventNames, EventScanner } from '../src/proxy/stream/event-scanner';
import { StreamProgress } from '../src/proxy/stream-progress';

const NAMES = new EventNames(StreamProgress.namesRead);
const frame = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
const parts = [
  frame('message_start', {
    type: 'message_start',
    message: { model: 'claude-x', content: [], usage: { input_tokens: 5, output_tokens: 1 } },
  }),
  frame('content_block_start', {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  }),
];
for (let i = 0; i < 500; i++) {
  parts.push(
    frame('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: `chunk${i} ` },
    }),
  );
}
parts.push(
  frame('content_block_stop', { type: 'content_block_stop', index: 0 }),
  frame('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn' },
    usage: { output_tokens: 500 },
  }),
  frame('message_stop', { type: 'message_stop' }),
);
const chunks = process.env.EACH === '1' ? parts.map((p) => Buffer.from(p)) : [Buffer.from(parts.join(''))];

function before(): number {
  const progress = new StreamProgress();
  const scanner = new SseScanner(StreamProgress.readsDataOf);
  for (const c of chunks) for (const ev of scanner.push(c)) progress.observe(ev);
  return progress.usage.output_tokens;
}

/** The relay's scanner line by line (`skim` false), or skimming after the commit point as the relay does. */
function relayScan(skim: boolean): number {
  const progress = new StreamProgress();
  const scanner: EventScanner = new EventScanner(
    {
      keepsDataOf: StreamProgress.readsDataOf,
      onEvent: (name, data) => {
        if (progress.observeEvent(name, data) && skim) scanner.skimFromNow(StreamProgress.needlesAfterCommit);
        return true;
      },
    },
    NAMES,
  );
  for (const c of chunks) scanner.scan(c);
  if (progress.usage.output_tokens !== 500 || !progress.completed) throw new Error('the scan missed the end');
  return progress.usage.output_tokens;
}
const after = () => relayScan(false);
const skimmed = () => relayScan(true);

if (process.env.CG === '1') {
  const fn = process.env.SCANNER === 'old' ? before : process.env.SCANNER === 'lines' ? after : skimmed;
  for (let i = 0; i < 300; i++) fn();
  execSync(`callgrind_control --instr=on ${process.pid}`);
  for (let i = 0; i < 100; i++) fn();
  execSync(`callgrind_control --dump ${process.pid}`);
} else {
  for (const [name, fn] of [
    ['before', before],
    ['lines', after],
    ['skim', skimmed],
    ['before', before],
    ['lines', after],
    ['skim', skimmed],
  ] as const) {
    for (let i = 0; i < 300; i++) fn();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) fn();
    const ns = Number(process.hrtime.bigint() - t0) / 1000 / parts.length;
    process.stdout.write(`${name.padEnd(7)} ${ns.toFixed(1)} ns/event\n`);
  }
}
