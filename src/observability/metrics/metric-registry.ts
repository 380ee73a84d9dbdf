/**
 * A small in-process metric registry: counters, gauges and histograms with optional labels, read out as snapshots
 * that render-text.ts turns into the Prometheus text format. Written here rather than taken from prom-client
 * because the hub needs only these three types, and keeping it ours keeps it free of process-wide default
 * registries (several hubs run in one test process, each with its own numbers).
 */

export type MetricType = "counter" | "gauge" | "histogram";
export type Labels = Readonly<Record<string, string>>;

/** One line of the exposition: a sample name (the family name, or it plus `_bucket`, `_sum`, `_count`), labels, value. */
export interface Sample {
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

/** One metric family as of a read: what `# HELP` and `# TYPE` describe, and its samples. */
export interface MetricSnapshot {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly Sample[];
}

interface Family {
  snapshot(): MetricSnapshot;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
// Names starting with "__" are reserved for Prometheus itself; "le" is the histogram's own bucket label.
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function checkLabelNames(metric: string, names: readonly string[], reserved: readonly string[]): void {
  for (const name of names) {
    if (!LABEL_NAME.test(name) || name.startsWith("__") || reserved.includes(name)) throw new Error(`Metric ${metric}: invalid label name "${name}"`);
  }
  if (new Set(names).size !== names.length) throw new Error(`Metric ${metric}: duplicate label names`);
}

/** The series of one family, one per distinct set of label values. */
class Children<T> {
  readonly #labelNames: readonly string[];
  readonly #metric: string;
  readonly #make: () => T;
  readonly #children = new Map<string, { labels: Labels; child: T }>();

  constructor(metric: string, labelNames: readonly string[], make: () => T) {
    this.#metric = metric;
    this.#labelNames = labelNames;
    this.#make = make;
    // A family without labels has exactly one series, present (at 0) from the start, as Prometheus advises.
    if (labelNames.length === 0) this.get({});
  }

  get(labels: Labels): T {
    const values = this.#labelNames.map((name) => {
      const value = labels[name];
      if (value === undefined) throw new Error(`Metric ${this.#metric}: missing label "${name}"`);
      return value;
    });
    if (Object.keys(labels).length !== this.#labelNames.length) throw new Error(`Metric ${this.#metric}: labels must be exactly ${this.#labelNames.join(", ") || "(none)"}`);
    // JSON keeps distinct value lists distinct whatever characters device ids or method names contain.
    const key = JSON.stringify(values);
    let entry = this.#children.get(key);
    if (entry === undefined) {
      const ordered: Record<string, string> = {};
      this.#labelNames.forEach((name, i) => (ordered[name] = values[i]!));
      entry = { labels: ordered, child: this.#make() };
      this.#children.set(key, entry);
    }
    return entry.child;
  }

  entries(): Array<{ labels: Labels; child: T }> {
    return [...this.#children.values()];
  }
}

/** One number per series, counter or gauge: what the two share (their series, reads and snapshot). */
abstract class ScalarFamily implements Family {
  protected readonly name: string;
  readonly #help: string;
  readonly #type: "counter" | "gauge";
  protected readonly children: Children<{ value: number }>;

  constructor(type: "counter" | "gauge", name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.#help = help;
    this.#type = type;
    this.children = new Children(name, labelNames, () => ({ value: 0 }));
  }

  /** The current value of one series (tests and the collector's own reads). */
  value(labels: Labels = {}): number {
    return this.children.get(labels).value;
  }

  snapshot(): MetricSnapshot {
    return { name: this.name, help: this.#help, type: this.#type, samples: this.children.entries().map(({ labels, child }) => ({ name: this.name, labels, value: child.value })) };
  }
}

/** A value that only goes up (resets only when the process restarts), such as messages received. */
export class Counter extends ScalarFamily {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super("counter", name, help, labelNames);
  }

  inc(amount = 1, labels: Labels = {}): void {
    if (!(amount >= 0) || !Number.isFinite(amount)) throw new Error(`Counter ${this.name}: cannot add ${amount}; counters only go up`);
    this.children.get(labels).value += amount;
  }
}

/** A value that goes up and down, such as connected devices; set when it changes or just before a read. */
export class Gauge extends ScalarFamily {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super("gauge", name, help, labelNames);
  }

  set(value: number, labels: Labels = {}): void {
    this.children.get(labels).value = value;
  }
}

interface HistogramState {
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * Observations sorted into cumulative buckets, with their sum and count: Azure's Average/Min/Max/Total views of a
 * size or latency metric become `rate(_sum)/rate(_count)`, `_sum`, and bucket quantiles in PromQL.
 */
export class Histogram implements Family {
  readonly #name: string;
  readonly #help: string;
  readonly #buckets: readonly number[];
  readonly #children: Children<HistogramState>;

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new Error(`Histogram ${name}: buckets must be finite and strictly increasing`);
    }
    this.#name = name;
    this.#help = help;
    this.#buckets = buckets;
    this.#children = new Children(name, labelNames, () => ({ counts: buckets.map(() => 0), sum: 0, count: 0 }));
  }

  observe(value: number, labels: Labels = {}): void {
    if (Number.isNaN(value)) return;
    const state = this.#children.get(labels);
    // Each observation lands in its smallest bucket; the snapshot makes the counts cumulative.
    const index = this.#buckets.findIndex((bound) => value <= bound);
    if (index >= 0) state.counts[index]! += 1;
    state.sum += value;
    state.count += 1;
  }

  /** Sum and count of one series (tests and the collector's own reads). */
  totals(labels: Labels = {}): { sum: number; count: number } {
    const state = this.#children.get(labels);
    return { sum: state.sum, count: state.count };
  }

  snapshot(): MetricSnapshot {
    const samples: Sample[] = [];
    for (const { labels, child } of this.#children.entries()) {
      let cumulative = 0;
      this.#buckets.forEach((bound, i) => {
        cumulative += child.counts[i]!;
        samples.push({ name: `${this.#name}_bucket`, labels: { ...labels, le: String(bound) }, value: cumulative });
      });
      samples.push({ name: `${this.#name}_bucket`, labels: { ...labels, le: "+Inf" }, value: child.count });
      samples.push({ name: `${this.#name}_sum`, labels, value: child.sum });
      samples.push({ name: `${this.#name}_count`, labels, value: child.count });
    }
    return { name: this.#name, help: this.#help, type: "histogram", samples };
  }
}

/** The metric families of one hub, in registration order (which is the order they are exposed in). */
export class MetricRegistry {
  readonly #families = new Map<string, Family>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(name, labelNames, [], () => new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(name, labelNames, [], () => new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.#add(name, labelNames, ["le"], () => new Histogram(name, help, labelNames, buckets));
  }

  snapshot(): MetricSnapshot[] {
    return [...this.#families.values()].map((family) => family.snapshot());
  }

  #add<T extends Family>(name: string, labelNames: readonly string[], reserved: readonly string[], make: () => T): T {
    if (!METRIC_NAME.test(name)) throw new Error(`Invalid metric name "${name}"`);
    if (this.#families.has(name)) throw new Error(`Metric ${name} is already registered`);
    checkLabelNames(name, labelNames, reserved);
    const family = make();
    this.#families.set(name, family);
    return family;
  }
}
