/**
 * Hit ratio of the `single` cache's W-TinyLFU admission against plain LRU of the same byte budget and against
 * the clairvoyant optimum (Belady), on Zipf (s = 0.9) key popularity with periodic scans of never-repeated keys.
 *
 *   node -r @swc-node/register bench/cache-hit-ratio.ts [--quick] [--keyspace=N] [--accesses=N]
 *        [--scan-every=N] [--scan-length=N] [--counters-per-entry=N] [--sizes=N,N,...]
 *
 * Seeded and deterministic: the same numbers on every run. Entries all have the same size, so a byte budget is
 * an entry count and Belady is exact. Every policy sees the same trace and serves it the way the relay does:
 * read, and on a miss write. A fourth column, "LFU oracle", keeps exactly the most popular keys of the Zipf
 * law (it knows the true ranks): under independent requests no online policy does better on average, so it
 * shows how much of the gap to Belady any real cache can close.
 */
import 'reflect-metadata';
import { LRUCache } from 'lru-cache';
import { seededRandom } from '../src/cache/admission/seeded-random';
import { SingleCache, entryCost } from '../src/cache/single-cache';
import { CacheConfig } from '../src/config/relay-config';

const quick = process.argv.includes('--quick');
function flag(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
}

const SEED = 20250601;
const ZIPF_S = 0.9;
const KEYSPACE = flag('keyspace', 1_000_000);
const ACCESSES = flag('accesses', quick ? 300_000 : 1_000_000);
/** Every SCAN_EVERY Zipf accesses, SCAN_LENGTH keys that are requested once and never again. */
const SCAN_EVERY = flag('scan-every', 50_000);
const SCAN_LENGTH = flag('scan-length', 10_000);
/** The spec's advice for `num_counters`: about 10 counters per entry the cache can hold. */
const COUNTERS_PER_ENTRY = flag('counters-per-entry', 10);
const VALUE_BYTES = 256;
const sizesArg = process.argv.find((a) => a.startsWith('--sizes='));
const CACHE_ENTRIES = sizesArg
  ? sizesArg.slice('--sizes='.length).split(',').map(Number)
  : quick
    ? [1_000, 10_000]
    : [1_000, 5_000, 20_000, 50_000];
/** A bijection of Zipf ranks onto ids (7919 is prime and does not divide the keyspace sizes used here). */
const idOfRank = (rank: number): number => (rank * 7919) % KEYSPACE;

const value = Buffer.alloc(VALUE_BYTES, 0x61);
/** Fixed-width names keep every entry the same cost. */
const keyOf = (id: number): string => `k${id.toString().padStart(9, '0')}`;
const ENTRY_COST = entryCost(keyOf(0), value);

/** The access trace: key ids, Zipf ranks below KEYSPACE, scan keys above it (each used once). */
function buildTrace(): Int32Array {
  const rng = seededRandom(SEED);
  const cdf = new Float64Array(KEYSPACE);
  let total = 0;
  for (let rank = 0; rank < KEYSPACE; rank++) {
    total += 1 / Math.pow(rank + 1, ZIPF_S);
    cdf[rank] = total;
  }
  const trace = new Int32Array(ACCESSES);
  let nextScanKey = KEYSPACE;
  let zipfSinceScan = 0;
  for (let i = 0; i < ACCESSES;) {
    if (zipfSinceScan === SCAN_EVERY) {
      for (let j = 0; j < SCAN_LENGTH && i < ACCESSES; j++) trace[i++] = nextScanKey++;
      zipfSinceScan = 0;
      continue;
    }
    const target = rng() * total;
    let lo = 0;
    let hi = KEYSPACE - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < target) lo = mid + 1;
      else hi = mid;
    }
    trace[i++] = idOfRank(lo);
    zipfSinceScan++;
  }
  return trace;
}

async function singleCacheHits(trace: Int32Array, entries: number): Promise<number> {
  const config = new CacheConfig();
  config.ttl_ms = 365 * 24 * 3600 * 1000;
  config.ristretto.max_cost = entries * ENTRY_COST;
  config.ristretto.num_counters = entries * COUNTERS_PER_ENTRY;
  const cache = new SingleCache(config, { now: () => 1_000 }, seededRandom(SEED + 1));
  let hits = 0;
  for (let i = 0; i < trace.length; i++) {
    const key = keyOf(trace[i] as number);
    // getMulti reads exactly like get() but reports a miss as undefined: a million thrown CacheNotFoundErrors
    // would only measure the cost of stack traces.
    const found = (await cache.getMulti([key])).get(key);
    if (found !== undefined) hits++;
    else await cache.set(key, value);
  }
  const bytes = cache.stats().bytes_used;
  if (bytes > config.ristretto.max_cost)
    throw new Error(`budget exceeded: ${bytes} > ${config.ristretto.max_cost}`);
  await cache.close();
  return hits;
}

/** Hits of a cache that holds exactly the `entries` most popular keys (each still missed once, when first seen). */
function lfuOracleHits(trace: Int32Array, entries: number): number {
  const top = new Uint8Array(KEYSPACE);
  for (let rank = 0; rank < Math.min(entries, KEYSPACE); rank++) top[idOfRank(rank)] = 1;
  const seen = new Uint8Array(KEYSPACE);
  let hits = 0;
  for (let i = 0; i < trace.length; i++) {
    const id = trace[i] as number;
    if (id >= KEYSPACE || top[id] === 0) continue;
    if (seen[id] === 1) hits++;
    else seen[id] = 1;
  }
  return hits;
}

function lruHits(trace: Int32Array, entries: number): number {
  const lru = new LRUCache<string, Buffer>({
    maxSize: entries * ENTRY_COST,
    sizeCalculation: (v, k) => entryCost(k, v),
  });
  let hits = 0;
  for (let i = 0; i < trace.length; i++) {
    const key = keyOf(trace[i] as number);
    if (lru.get(key) !== undefined) hits++;
    else lru.set(key, value);
  }
  return hits;
}

/**
 * Belady's optimum for a cache that may also decline to store (the fair ceiling for an admission policy): on a
 * miss, of the cached entries plus the newcomer, the one whose next use is furthest away is left out.
 */
function beladyHits(trace: Int32Array, entries: number): number {
  const n = trace.length;
  const never = n + 1;
  let maxId = 0;
  for (let i = 0; i < n; i++) maxId = Math.max(maxId, trace[i] as number);
  const nextUse = new Int32Array(n);
  const seenAt = new Int32Array(maxId + 1).fill(never);
  for (let i = n - 1; i >= 0; i--) {
    const id = trace[i] as number;
    nextUse[i] = seenAt[id] as number;
    seenAt[id] = i;
  }
  // Max-heap of (next use, id) with lazy deletion: an item is live while it matches the id's current next use.
  const heapNext = new Int32Array(n + 1);
  const heapId = new Int32Array(n + 1);
  let heapSize = 0;
  const cachedNext = new Int32Array(maxId + 1).fill(-1); // -1 = not cached
  const push = (next: number, id: number): void => {
    let i = heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heapNext[parent] as number) >= next) break;
      heapNext[i] = heapNext[parent] as number;
      heapId[i] = heapId[parent] as number;
      i = parent;
    }
    heapNext[i] = next;
    heapId[i] = id;
  };
  const pop = (): void => {
    const lastNext = heapNext[--heapSize] as number;
    const lastId = heapId[heapSize] as number;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heapSize) break;
      if (child + 1 < heapSize && (heapNext[child + 1] as number) > (heapNext[child] as number)) child++;
      if ((heapNext[child] as number) <= lastNext) break;
      heapNext[i] = heapNext[child] as number;
      heapId[i] = heapId[child] as number;
      i = child;
    }
    heapNext[i] = lastNext;
    heapId[i] = lastId;
  };
  const dropStaleTop = (): void => {
    while (heapSize > 0 && cachedNext[heapId[0] as number] !== heapNext[0]) pop();
  };
  let size = 0;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const id = trace[i] as number;
    const next = nextUse[i] as number;
    if ((cachedNext[id] as number) >= 0) {
      hits++;
      cachedNext[id] = next;
      push(next, id);
      continue;
    }
    if (next === never) continue;
    if (size >= entries) {
      dropStaleTop();
      if ((heapNext[0] as number) <= next) continue;
      cachedNext[heapId[0] as number] = -1;
      pop();
      size--;
    }
    cachedNext[id] = next;
    push(next, id);
    size++;
  }
  return hits;
}

const pct = (hits: number, n: number): string => `${((100 * hits) / n).toFixed(1)}%`;

async function main(): Promise<void> {
  const started = Date.now();
  const trace = buildTrace();
  const distinct = new Set(trace).size;
  console.log(
    `trace: ${trace.length} accesses, ${distinct} distinct keys, Zipf s=${ZIPF_S} over ${KEYSPACE} keys, ` +
      `scan of ${SCAN_LENGTH} new keys every ${SCAN_EVERY} accesses, entry cost ${ENTRY_COST} B, ` +
      `num_counters = ${COUNTERS_PER_ENTRY} x entries, seed ${SEED}`,
  );
  const rows: string[][] = [
    ['entries', 'max_cost', 'LRU', 'W-TinyLFU', 'LFU oracle', 'Belady', 'TinyLFU-LRU', 'TinyLFU/Belady'],
  ];
  for (const entries of CACHE_ENTRIES) {
    const n = trace.length;
    const lru = lruHits(trace, entries);
    const tiny = await singleCacheHits(trace, entries);
    const oracle = lfuOracleHits(trace, entries);
    const opt = beladyHits(trace, entries);
    rows.push([
      String(entries),
      String(entries * ENTRY_COST),
      pct(lru, n),
      pct(tiny, n),
      pct(oracle, n),
      pct(opt, n),
      `${((100 * (tiny - lru)) / n).toFixed(1)} pts`,
      `${((100 * tiny) / opt).toFixed(1)}%`,
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padStart(widths[c]!)).join('  '));
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
