import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TallyCounter, TallyHistogram } from './tallies';

/** The exposition text of one metric family, comments included. */
async function render(build: (registry: Registry) => void): Promise<string> {
  const registry = new Registry();
  build(registry);
  return registry.metrics();
}

describe('TallyCounter', () => {
  it('renders exactly what a prom-client Counter with the same updates renders', async () => {
    const updates: Array<[string[], number]> = [
      [['/v1/messages', 'POST', '200'], 1],
      [['/v1/messages', 'POST', '200'], 1],
      [['/v1/models', 'GET', '404'], 1],
      [['/v1/messages', 'POST', '529'], 3],
    ];
    const ours = await render((registry) => {
      const c = new TallyCounter('reqs_total', 'requests', ['route', 'method', 'status']).registerIn(
        registry,
      );
      for (const [values, by] of updates) c.inc(values, by);
    });
    const theirs = await render((registry) => {
      const c = new Counter({
        name: 'reqs_total',
        help: 'requests',
        labelNames: ['route', 'method', 'status'],
        registers: [registry],
      });
      for (const [[route, method, status], by] of updates) c.inc({ route, method, status }, by);
    });
    expect(ours).toBe(theirs);
    expect(ours).toContain('reqs_total{route="/v1/messages",method="POST",status="200"} 2');
  });

  it('keeps label combinations apart even when joined values would look alike', () => {
    const c = new TallyCounter('t', 'h', ['a', 'b']);
    c.inc(['x', 'yz']);
    c.inc(['xy', 'z'], 5);
    expect(c.value(['x', 'yz'])).toBe(1);
    expect(c.value(['xy', 'z'])).toBe(5);
  });

  it('refuses a wrong number of label values instead of mislabelling', () => {
    const c = new TallyCounter('t', 'h', ['a', 'b']);
    expect(() => c.inc(['only-one'])).toThrow(/2 label values expected/);
  });

  it('is emptied by the registry reset', async () => {
    const registry = new Registry();
    const c = new TallyCounter('t_total', 'h', ['a']).registerIn(registry);
    c.inc(['x']);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('t_total{');
  });
});

describe('TallyHistogram', () => {
  it('renders exactly what a prom-client Histogram with the same observations renders', async () => {
    const buckets = [0.005, 0.1, 1, 10];
    const observations: Array<[string, number]> = [
      ['/v1/messages', 0.004],
      ['/v1/messages', 0.005], // on a bound: counted in that bucket (le = less or equal)
      ['/v1/messages', 0.7],
      ['/v1/messages', 42], // above every bound: only in +Inf
      ['/v1/models', 0.02],
    ];
    const ours = await render((registry) => {
      const h = new TallyHistogram('dur_seconds', 'duration', ['route'], buckets).registerIn(registry);
      for (const [route, v] of observations) h.observe([route], v);
    });
    const theirs = await render((registry) => {
      const h = new Histogram({
        name: 'dur_seconds',
        help: 'duration',
        labelNames: ['route'],
        buckets,
        registers: [registry],
      });
      for (const [route, v] of observations) h.observe({ route }, v);
    });
    expect(ours).toBe(theirs);
    expect(ours).toContain('dur_seconds_bucket{le="0.005",route="/v1/messages"} 2');
    expect(ours).toContain('dur_seconds_bucket{le="+Inf",route="/v1/messages"} 4');
    expect(ours).toContain('dur_seconds_count{route="/v1/messages"} 4');
  });
});
