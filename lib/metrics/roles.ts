/**
 * Collectors of the worker roles whose numbers live in the service itself: origin, signalling relay, ingest. Each
 * reads the service's public accessors at scrape time (`origin.stats()`, `relay.stats()`, `worker.stats()`, …);
 * the tracker's collector, which keeps a view of its own, is in tracker.ts.
 *
 * Counters are one worker's (sum them over workers). Gauges that describe the one shared capacity or queue are
 * the same on every worker (take max, not sum); each says which it is.
 */
import type { Registry } from 'prom-client';
import type { IngestWorker } from '../../actors/ingest/worker.js';
import type { Origin } from '../../actors/origin/service.js';
import type { SignalRelay } from '../../actors/signal/relay.js';
import type { Logger } from '../logger.js';
import { counterFrom, gaugeFrom, samplesOf } from './registry.js';

/** Registers the origin worker's metrics on `registry` (one origin per registry). */
export function originMetrics(origin: Pick<Origin, 'served' | 'stats' | 'urgent' | 'admission'>, registry: Registry): void {
  counterFrom({ registry, name: 'switchyard_origin_requests_total', labelNames: ['verb'],
    help: 'Requests this origin worker answered, by verb (open, heartbeat, release, urgent, list, get, publish).' },
  () => samplesOf('verb', origin.served));
  counterFrom({ registry, name: 'switchyard_origin_opens_total', labelNames: ['outcome'],
    help: 'Open replies: granted (a slot at once) or denied (queued on the wait list).' },
  () => samplesOf('outcome', origin.stats().opens));
  counterFrom({ registry, name: 'switchyard_origin_heartbeats_total', labelNames: ['outcome'],
    help: 'Heartbeat replies: granted (lease and grant renewed) or waiting (still queued).' },
  () => samplesOf('outcome', origin.stats().heartbeats));
  counterFrom({ registry, name: 'switchyard_origin_grants_issued_total', labelNames: ['kind'],
    help: 'Slot grants signed: open (slot at once), renewal (heartbeat), offer (a freed slot handed to a waiter).' },
  () => {
    const s = origin.stats();
    return [[{ kind: 'open' }, s.opens.granted], [{ kind: 'renewal' }, s.heartbeats.granted],
      [{ kind: 'offer' }, s.pushes['slot-offered'] ?? 0]] as const;
  });
  counterFrom({ registry, name: 'switchyard_origin_pushes_total', labelNames: ['event'],
    help: 'Pushes to peers: slot-offered (a waiter got a slot), slot-revoked (a lease expired or was reclaimed).' },
  () => samplesOf('event', origin.stats().pushes));
  counterFrom({ registry, name: 'switchyard_origin_errors_total', labelNames: ['code'],
    help: 'Admission requests (open, heartbeat, release, urgent) answered with an error, by error code.' },
  () => samplesOf('code', origin.stats().errors));
  counterFrom({ registry, name: 'switchyard_origin_urgent_grants_total',
    help: 'Urgent grants issued (chunks at a streaming playhead, no slot).' }, () => origin.urgent.stats().grants);
  counterFrom({ registry, name: 'switchyard_origin_urgent_granted_bytes_total',
    help: 'Bytes the issued urgent grants cover.' }, () => origin.urgent.stats().bytes);
  counterFrom({ registry, name: 'switchyard_origin_urgent_refused_total',
    help: 'Urgent grant requests refused (disabled, too many chunks, rate limited, unknown session).' },
  () => origin.urgent.stats().refused);
  gaugeFrom({ registry, name: 'switchyard_origin_capacity',
    help: 'Origin slots in all (the global capacity every worker shares).' }, () => origin.admission.snapshot().capacity);
  gaugeFrom({ registry, name: 'switchyard_origin_slots_held',
    help: 'Slots held by a lease now, as this worker\'s mirror of sy_admission sees them (all workers\' grants).' },
  () => origin.admission.snapshot().slots.filter((s) => s !== null).length);
  gaugeFrom({ registry, name: 'switchyard_origin_waiting',
    help: 'Sessions on the wait list now (all workers), as this worker\'s mirror sees them.' },
  () => origin.admission.snapshot().waiting.length);
}

/** Registers the relay's metrics on `registry` (one relay per registry). */
export function signalMetrics(relay: Pick<SignalRelay, 'stats'>, registry: Registry): void {
  counterFrom({ registry, name: 'switchyard_signal_relayed_total',
    help: 'Signalling messages (offer, answer, candidate, bye) checked and forwarded to their peer.' },
  () => relay.stats().relayed);
  counterFrom({ registry, name: 'switchyard_signal_refused_total', labelNames: ['reason'],
    help: 'Signalling messages refused: rate_limited (the sender\'s bucket was empty) or invalid (size, subject, schema, SDP rules).' },
  () => {
    const s = relay.stats();
    return [[{ reason: 'rate_limited' }, s.rateLimited], [{ reason: 'invalid' }, s.rejected - s.rateLimited]] as const;
  });
  gaugeFrom({ registry, name: 'switchyard_signal_tracked_peers',
    help: 'Senders the relay\'s rate limiter remembers now (bounded by maxTrackedPeers).' }, () => relay.stats().trackedPeers);
}

/** Registers the ingest worker's metrics on `registry` (one worker per registry). */
export function ingestMetrics(worker: Pick<IngestWorker, 'stats' | 'backlog'>, registry: Registry, c: { logger?: Logger } = {}): void {
  counterFrom({ registry, name: 'switchyard_ingest_jobs_total', labelNames: ['outcome'],
    help: 'Ingest jobs this worker finished: done (manifest published), failed (answered ok:false), malformed (dropped).' },
  () => {
    const s = worker.stats();
    return [[{ outcome: 'done' }, s.done], [{ outcome: 'failed' }, s.failed], [{ outcome: 'malformed' }, s.malformed]] as const;
  });
  gaugeFrom({ registry, name: 'switchyard_ingest_jobs_running', help: 'Jobs this worker is working on now.' },
    () => worker.stats().running);
  gaugeFrom({ registry, name: 'switchyard_ingest_queue_pending',
    help: 'Jobs waiting in SY_INGEST for any worker (the shared consumer\'s num_pending); NaN when JetStream did not answer.' },
  async () => {
    try {
      return await worker.backlog();
    } catch (err) {
      // one failed query must not fail the whole scrape: the other metrics are still true
      c.logger?.debug('ingest backlog unavailable', { err });
      return Number.NaN;
    }
  });
}
