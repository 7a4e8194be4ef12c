/**
 * What the `single` cache's byte budget means in real memory: a SingleCache (the production class, the default
 * 1,000,000-counter sketch) is filled with answers of one size under keys shaped like the relay's
 * (`v1:msg:<64 hex>`), past its budget so that eviction runs, and the process's heap + ArrayBuffer memory is
 * compared before and after (each after a full GC). Reports the memory the cache holds per byte it accounts
 * (`bytes_used`), its fixed part (the sketch and empty structures, there whatever the entries), and what one entry
 * costs beyond its value and key, against the ENTRY_OVERHEAD_BYTES estimate that the budget charges.
 *
 *   node --expose-gc -r @swc-node/register bench/cache-memory.ts     (MAX_COST=67108864 SIZES=256,1024,4096,16384)
 */
import { createHash } from 'node:crypto';
import { systemClock } from '../src/common/clock';
import { validateConfig } from '../src/config/config-validation';
import { ENTRY_OVERHEAD_BYTES, SingleCache } from '../src/cache/single-cache';

const MAX_COST = Number(process.env.MAX_COST ?? 64 * 1024 * 1024);
const SIZES = (process.env.SIZES ?? '256,1024,4096,16384').split(',').map(Number);

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with node --expose-gc');
  collect();
  collect();
}

function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function key(i: number, size: number): string {
  return `v1:msg:${createHash('sha256').update(`${size}:${i}`).digest('hex')}`;
}

async function measure(size: number): Promise<Record<string, number>> {
  const { config } = validateConfig({
    providers: [{ name: 'p' }],
    cache: { mode: 'single', ristretto: { max_cost: MAX_COST } },
  });
  gc();
  const before = used();
  const cache = new SingleCache(config.cache, systemClock);
  gc();
  const fixed = used() - before; // the sketch and the empty structures, whatever the entries
  const value = Buffer.alloc(size, 0x61);
  const perEntry = size + 71 + ENTRY_OVERHEAD_BYTES;
  const inserts = Math.ceil((2 * MAX_COST) / perEntry);
  for (let i = 0; i < inserts; i++) await cache.set(key(i, size), value);
  gc();
  const after = used();
  const stats = cache.stats();
  const held = after - before;
  const entries = stats.key_count;
  const result = {
    size,
    entries,
    bytes_used: stats.bytes_used,
    held,
    fixed,
    held_per_accounted: held / stats.bytes_used,
    overhead_per_entry: (held - fixed - entries * (size + 71)) / entries,
  };
  await cache.close();
  return result;
}

async function main(): Promise<void> {
  process.stdout.write(
    `single cache, max_cost ${MAX_COST} B, num_counters 1,000,000; charged overhead ${ENTRY_OVERHEAD_BYTES} B/entry\n`,
  );
  process.stdout.write(
    'value B | entries | bytes_used | memory held | of it fixed | held / bytes_used | overhead B/entry\n',
  );
  for (const size of SIZES) {
    const r = await measure(size);
    process.stdout.write(
      `${String(r.size).padStart(7)} | ${String(r.entries).padStart(7)} | ${String(r.bytes_used).padStart(10)} | ` +
        `${String(r.held).padStart(11)} | ${String(r.fixed).padStart(11)} | ${r.held_per_accounted!.toFixed(3).padStart(17)} | ${r.overhead_per_entry!.toFixed(0).padStart(16)}\n`,
    );
  }
}

void main();
