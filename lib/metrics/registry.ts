/**
 * A Prometheus registry per component instance (never prom-client's global default registry: several gateways
 * and workers share one process in tests, the demo and `switchyard serve`, and each must report only itself),
 * plus helpers for metrics whose values live in a component's own counters and are read at scrape time.
 *
 * Reading at scrape time keeps the hot paths (a chunk served, a request answered) free of prom-client calls and
 * leaves one source of truth: the component's public accessor, which tests and dashboards read as well.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** Labels that tell one process's metrics from another's; set on the process metrics only. */
export interface MetricsLabels {
  /** the part this process plays: gateway, origin, tracker, signal, ingest */
  role: string;
  /** which one of its role, e.g. `origin-0` (default: the process id) */
  worker?: string;
}

/**
 * A fresh registry with Node's process metrics (heap, RSS, CPU, event loop lag, handles, GC, file descriptors)
 * labelled `role` and `worker`. The component's own metrics carry no such labels, so their names and samples
 * stay exactly as documented; Prometheus adds `instance`/`job` from the scrape anyway.
 *
 * Note: prom-client cannot undo `collectDefaultMetrics`: each registry keeps a GC observer and an event loop
 * delay monitor for the life of the process. Make one registry per component instance, never one per request.
 */
export function createMetricsRegistry(labels: MetricsLabels): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, labels: { role: labels.role, worker: labels.worker ?? String(process.pid) } });
  return registry;
}

/** Label values and the value of one sample. */
export type Sample = readonly [labels: Record<string, string>, value: number];

export interface MirroredMetric {
  registry: Registry;
  name: string;
  help: string;
  labelNames?: readonly string[];
}

/**
 * A counter whose value is a component's own monotonic count, read at scrape time: a number for an unlabelled
 * counter, samples for a labelled one. The reader may be async (a JetStream query, say).
 */
export function counterFrom(m: MirroredMetric, read: () => number | readonly Sample[] | Promise<number | readonly Sample[]>): Counter {
  return new Counter({
    name: m.name, help: m.help, labelNames: [...(m.labelNames ?? [])], registers: [m.registry],
    async collect() {
      const v = await read();
      this.reset();
      if (typeof v === 'number') this.inc(Math.max(0, v));
      else for (const [labels, n] of v) this.inc(labels, Math.max(0, n));
    },
  });
}

/** A gauge read at scrape time (see `counterFrom`). */
export function gaugeFrom(m: MirroredMetric, read: () => number | readonly Sample[] | Promise<number | readonly Sample[]>): Gauge {
  return new Gauge({
    name: m.name, help: m.help, labelNames: [...(m.labelNames ?? [])], registers: [m.registry],
    async collect() {
      const v = await read();
      this.reset();
      if (typeof v === 'number') this.set(v);
      else for (const [labels, n] of v) this.set(labels, n);
    },
  });
}

/** Samples of a `Record<label value, count>`, one label. */
export function samplesOf(label: string, counts: Readonly<Record<string, number>>): Sample[] {
  return Object.entries(counts).map(([k, n]) => [{ [label]: k }, n] as const);
}
