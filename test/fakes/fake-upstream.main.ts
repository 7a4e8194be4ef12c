/**
 * Standalone fake Anthropic upstream for demos and benchmarks: `npm run fake-upstream -- --port 8788`
 * (or env PORT). It records nothing, so a long benchmark does not grow its memory. `--thinking-signer NAME` makes
 * it sign thinking blocks and refuse other signers' (see FakeUpstreamOptions.thinkingSigner); `--log-bodies` prints
 * every request's method, path, headers and body as one JSON line (to capture what a client really sends).
 * `--sse-deltas N` answers every streamed Messages request with N content_block_delta events (a long answer, as
 * Claude Code streams: hundreds to thousands of events), `--sse-delay-ms M` paces them M ms apart, so each event
 * leaves in its own write as a real model's tokens do (0, the default: the whole stream in one write).
 */
import { FakeUpstream } from './fake-upstream';
import type { Scenario } from './fake-scenario';

function portFrom(argv: string[], env: NodeJS.ProcessEnv): number {
  let value: string | undefined = env.PORT;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--port') value = argv[i + 1];
    else if (arg.startsWith('--port=')) value = arg.slice('--port='.length);
  }
  const port = value === undefined || value === '' ? 8788 : Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${value}`);
  return port;
}

async function main(): Promise<void> {
  const host = process.argv.includes('--public') ? '0.0.0.0' : '127.0.0.1';
  const argv = process.argv;
  const signerAt = argv.indexOf('--thinking-signer');
  const logBodies = argv.includes('--log-bodies');
  const deltasAt = argv.indexOf('--sse-deltas');
  const delayAt = argv.indexOf('--sse-delay-ms');
  const longStream: Scenario | undefined =
    deltasAt >= 0 || delayAt >= 0
      ? {
          kind: 'sse',
          deltas: deltasAt >= 0 ? Number(argv[deltasAt + 1]) : undefined,
          delayMs: delayAt >= 0 ? Number(argv[delayAt + 1]) : undefined,
        }
      : undefined;
  const fake = new FakeUpstream({
    record: logBodies,
    thinkingSigner: signerAt >= 0 ? argv[signerAt + 1] : undefined,
  });
  if (longStream) {
    fake.script((req) => {
      const streamed = (req.body as { stream?: unknown } | undefined)?.stream === true;
      return streamed && req.path === '/v1/messages' ? longStream : undefined;
    });
  } else if (logBodies) {
    fake.script((req) => {
      console.log(
        JSON.stringify({
          method: req.method,
          path: req.path,
          query: req.query,
          headers: req.headers,
          body: req.body,
        }),
      );
      fake.requests.length = 0;
      return undefined;
    });
  }
  const url = await fake.start(portFrom(process.argv.slice(2), process.env), host);
  console.log(`fake upstream listening on ${url}`);
  const stop = (signal: NodeJS.Signals) => {
    console.log(`fake upstream: ${signal}, stopping`);
    fake.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
