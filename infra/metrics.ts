/**
 * One Prometheus endpoint per worker process (`switchyard worker … --metrics-port P`): the process metrics (heap,
 * RSS, event loop lag, handles) and the counters of every role the process runs, on one registry. A gateway
 * serves its own `/metrics` on its HTTP port as well.
 */
import { systemClock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import {
  createMetricsRegistry, ingestMetrics, originMetrics, signalMetrics, startMetricsServer, trackerMetrics,
  type MetricsServer,
} from '../lib/metrics/mod.js';
import type { Origin } from '../actors/origin/mod.js';
import type { IngestWorker } from '../actors/ingest/mod.js';
import type { SignalRelay } from '../actors/signal/mod.js';
import type { Tracker } from '../actors/tracker/mod.js';
import type { RunningRole } from './roles.js';

/** The services one worker process runs (each optional). */
export interface WorkerServices {
  origin?: Origin;
  tracker?: RunningRole<Tracker>;
  signal?: SignalRelay;
  ingest?: IngestWorker;
}

/** Attaches each running role's metrics to one registry and serves it; `stop()` closes the server. */
export async function serveWorkerMetrics(services: WorkerServices,
  opts: { name: string; roles: readonly string[]; port: number; host?: string; logger: Logger }): Promise<MetricsServer> {
  const registry = createMetricsRegistry({ role: opts.roles.join('+') || 'none', worker: opts.name });
  if (services.origin) originMetrics(services.origin, registry);
  if (services.signal) signalMetrics(services.signal, registry);
  if (services.ingest) ingestMetrics(services.ingest, registry, { logger: opts.logger });
  const view = services.tracker
    ? await trackerMetrics(services.tracker.service, registry, { nc: services.tracker.nc, clock: systemClock, logger: opts.logger })
    : null;
  const server = await startMetricsServer({ port: opts.port, registry, ...(opts.host ? { host: opts.host } : {}),
    gcBeforeScrape: process.env.SWITCHYARD_METRICS_GC === '1' });
  return {
    ...server,
    async stop() {
      await server.stop();
      await view?.stop();
    },
  };
}
