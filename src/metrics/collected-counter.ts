import type { Metric } from 'prom-client';
import type { TallySample, TallySnapshot } from './tallies';

/** Hands one sample to a collected counter: label values in the order of its label names, and the count. */
export type CounterSink = (values: readonly string[], count: number) => void;

/**
 * A Prometheus counter family whose counts another module keeps (the cache's tallies): read at every scrape and
 * exported with counter type, never copied or reset here. The counts must only grow while the process lives; a
 * restart starts them at 0 again, which `rate()` and `increase()` treat as a counter reset.
 */
export class CollectedCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly read: (sink: CounterSink) => void,
  ) {}

  /** The samples as the registry renders them; a count that is not a finite number ≥ 0 is left out. */
  get(): TallySnapshot {
    const values: TallySample[] = [];
    this.read((labelValues, count) => {
      if (labelValues.length !== this.labelNames.length) {
        throw new RangeError(
          `${this.name}: ${this.labelNames.length} label values expected, got ${labelValues.length}`,
        );
      }
      if (!Number.isFinite(count) || count < 0) return;
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = labelValues[i]!));
      values.push({ labels, value: count, metricName: this.name });
    });
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' };
  }

  /** Registry.resetMetrics calls this; the counts belong to their owner, so there is nothing to forget. */
  reset(): void {}

  /** Registers this counter in a prom-client registry, which renders it like its own metrics. */
  registerIn(registry: { registerMetric(metric: Metric): void }): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}
