import type { Metric } from 'prom-client';

/**
 * Request-path metrics kept as plain numbers and turned into Prometheus samples only when scraped. prom-client's
 * own Counter/Histogram hash a label object on every update (sorted names, a built string): measured at ~10 µs
 * of CPU per proxied request on the relay's slowest benchmark machine, the largest cost of the metrics. Here an
 * update is one Map lookup per label value and an addition; the registry renders the same text.
 */
interface Cell {
  labels: Record<string, string>;
}

/** One sample line as prom-client's registry renders it. */
export interface TallySample {
  labels: Record<string, string>;
  value: number;
  metricName: string;
}

/** What the registry reads from a metric at scrape time (prom-client's MetricObjectWithValues, untyped enum aside). */
export interface TallySnapshot {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: TallySample[];
}

/** Cells by label values: one map level per label, so an update builds no key string (the values are constants). */
type Level<C> = Map<string, Level<C> | C>;

abstract class Tally<C extends Cell> {
  private root: Level<C> = new Map();
  /** Every cell, in the order made (what a scrape renders). */
  protected cells: C[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
  ) {}

  /** The cell of one label combination, made on first use (label values in the order of `labelNames`). */
  protected cell(values: readonly string[]): C {
    const last = values.length - 1;
    if (last + 1 !== this.labelNames.length) {
      throw new RangeError(
        `${this.name}: ${this.labelNames.length} label values expected, got ${values.length}`,
      );
    }
    let level = this.root;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]!) as Level<C> | undefined;
      if (!next) {
        next = new Map();
        level.set(values[i]!, next);
      }
      level = next;
    }
    let cell = level.get(values[last]!) as C | undefined;
    if (!cell) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
      cell = this.newCell(labels);
      level.set(values[last]!, cell);
      this.cells.push(cell);
    }
    return cell;
  }

  /** The cell of one label combination if it was ever made. */
  protected existing(values: readonly string[]): C | undefined {
    let level: Level<C> | C | undefined = this.root;
    for (const v of values) {
      if (!(level instanceof Map)) return undefined;
      level = level.get(v);
    }
    return level instanceof Map ? undefined : level;
  }

  protected abstract newCell(labels: Record<string, string>): C;

  /** Forgets every value (prom-client's Registry.resetMetrics calls this). */
  reset(): void {
    this.root = new Map();
    this.cells = [];
  }

  /** Registers this tally in a prom-client registry, which renders it like its own metrics. */
  registerIn(registry: { registerMetric(metric: Metric): void }): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

/** A counter by label values. */
export class TallyCounter extends Tally<Cell & { value: number }> {
  readonly type = 'counter';

  inc(values: readonly string[], by = 1): void {
    this.cell(values).value += by;
  }

  /** Current value of one label combination (0 when never counted). */
  value(values: readonly string[]): number {
    return this.existing(values)?.value ?? 0;
  }

  protected newCell(labels: Record<string, string>): Cell & { value: number } {
    return { labels, value: 0 };
  }

  get(): TallySnapshot {
    const values = this.cells.map((c) => ({
      labels: c.labels,
      value: c.value,
      metricName: this.name,
    }));
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' };
  }
}

interface HistogramCell extends Cell {
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram by label values, with fixed upper bounds. */
export class TallyHistogram extends Tally<HistogramCell> {
  readonly type = 'histogram';
  private readonly bounds: Float64Array;

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
  }

  observe(values: readonly string[], v: number): void {
    const cell = this.cell(values);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && v > bounds[i]!) i++;
    cell.counts[i]!++;
    cell.sum += v;
    cell.count++;
  }

  protected newCell(labels: Record<string, string>): HistogramCell {
    return { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }

  get(): TallySnapshot {
    const values: TallySample[] = [];
    for (const c of this.cells) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += c.counts[i]!;
        const le = i < this.bounds.length ? String(this.bounds[i]) : '+Inf';
        values.push({ labels: { le, ...c.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}
