import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CollectedCounter } from './collected-counter';

describe('CollectedCounter', () => {
  it('renders exactly what a prom-client Counter holding the same counts renders', async () => {
    const counts = { hits: 3, misses: 5 };
    const ours = new Registry();
    new CollectedCounter('cache_events_total', 'cache events', ['event', 'mode'], (sink) => {
      for (const [event, n] of Object.entries(counts)) sink([event, 'single'], n);
    }).registerIn(ours);
    const theirs = new Registry();
    const c = new Counter({
      name: 'cache_events_total',
      help: 'cache events',
      labelNames: ['event', 'mode'],
      registers: [theirs],
    });
    for (const [event, n] of Object.entries(counts)) c.inc({ event, mode: 'single' }, n);

    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('# TYPE cache_events_total counter');
    expect(text).toContain('cache_events_total{event="misses",mode="single"} 5');
  });

  it("reads the owner's counts at every scrape, and a registry reset leaves them alone", async () => {
    const registry = new Registry();
    let hits = 1;
    new CollectedCounter('hits_total', 'h', [], (sink) => sink([], hits)).registerIn(registry);
    expect(await registry.metrics()).toContain('hits_total 1');
    hits = 4;
    registry.resetMetrics();
    expect(await registry.metrics()).toContain('hits_total 4');
  });

  it('leaves out counts no counter can hold, and refuses a wrong number of label values', async () => {
    const registry = new Registry();
    new CollectedCounter('t_total', 'h', ['a'], (sink) => {
      sink(['neg'], -1);
      sink(['nan'], Number.NaN);
      sink(['ok'], 2);
    }).registerIn(registry);
    const text = await registry.metrics();
    expect(text).toContain('t_total{a="ok"} 2');
    expect(text).not.toContain('neg');
    expect(text).not.toContain('nan');

    const wrong = new CollectedCounter('w_total', 'h', ['a', 'b'], (sink) => sink(['x'], 1));
    expect(() => wrong.get()).toThrow(/2 label values expected/);
  });
});
