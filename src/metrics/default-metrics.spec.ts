import { closeSync, openSync } from 'node:fs';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { lightenDefaultMetrics } from './default-metrics';

const openFds = async (registry: Registry): Promise<number> => {
  const m = /^x_process_open_fds (\d+)$/m.exec(await registry.metrics());
  return Number(m?.[1]);
};

describe.runIf(process.platform === 'linux')('lightenDefaultMetrics', () => {
  it("replaces prom-client's process_open_fds: one series, with the process's open descriptors", async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'x_' });
    lightenDefaultMetrics(registry, 'x_');
    const text = await registry.metrics();
    expect(text.match(/^# TYPE x_process_open_fds gauge$/gm)).toHaveLength(1);
    // The lists of every handle and resource are gone; the heap, GC and event-loop metrics stay.
    expect(text).not.toMatch(/^x_nodejs_active_/m);
    expect(text).toMatch(/^x_nodejs_eventloop_lag_p99_seconds /m);
    expect(text).toMatch(/^x_nodejs_heap_size_used_bytes /m);

    const before = await openFds(registry);
    const fds = Array.from({ length: 50 }, () => openSync('/dev/null', 'r'));
    try {
      expect(await openFds(registry)).toBe(before + 50);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    expect(await openFds(registry)).toBe(before);
  });

  it('a listing that fails does not fail the scrape', async () => {
    const missing = new Registry();
    lightenDefaultMetrics(missing, 'x_', '/proc/self/no-such-dir');
    // As prom-client's own: the gauge keeps its last value (none yet: 0).
    expect(await missing.metrics()).toMatch(/^x_process_open_fds 0$/m);
  });
});
