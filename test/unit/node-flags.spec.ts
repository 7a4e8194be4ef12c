import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROXY_NODE_FLAGS } from '../../bench/processes';

const ROOT = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

// The relay's Node flags are written in four places; the benchmarks must measure the relay as it ships.
describe('the Node flags the relay runs with', () => {
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!;
  const startFlags = start.split(' ').filter((w) => w.startsWith('--'));

  // --max-semi-space-size=64 was dropped on 2026-12-07: no measurable CPU gain per request any more, ~6 KB of RSS
  // per open stream (docs/benchmarks.md). Flags come back only with a benchmark that shows what they buy:
  // --no-memory-reducer keeps a process that idled from settling into ~10 full GCs a second under long streams
  // (bench/gc-modes.ts, docs/benchmarks.md "Streams (issue 23)", 2026-12-07 night).
  it('npm start passes only --no-memory-reducer', () => {
    expect(startFlags).toEqual(['--no-memory-reducer']);
    expect(start).toMatch(/dist\/main\.js$/);
  });

  it('the Dockerfile CMD passes the same flags', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'));
    expect(cmd).not.toBeNull();
    const args = JSON.parse(cmd![1]!) as string[];
    expect(args[0]).toBe('node');
    expect(args.filter((a) => a.startsWith('--'))).toEqual(startFlags);
    expect(args.at(-1)).toBe('dist/main.js');
  });

  it('the benchmarks run both proxies with them', () => {
    if (process.env.BENCH_NODE_FLAGS === undefined) expect(PROXY_NODE_FLAGS).toEqual(startFlags);
    expect(read('bench/instructions.sh')).toContain(`NODE_FLAGS=\${NODE_FLAGS:-${startFlags.join(' ')}}`);
  });
});
