/**
 * Live inspection of a client's machines, from XState's `inspect` option. `transitionTap` turns a root actor's
 * inspection events into transitions (state entered + the type of the event that caused it): one debug log line
 * each, and a record for the publisher. `createInspectPublisher` batches records onto `sy.inspect.<peerId>`
 * (protocol/inspect.ts) for the gateway's inspector.
 *
 * On by default where a client owns its NATS connection, because it is cheap and bounded: only transitions are
 * recorded (a download makes a handful, a link about six), never events without a state change, and never an
 * event's payload; a batch goes at most every `intervalMs` (250 ms) and only when something happened; the queue
 * holds at most `maxQueue` records and drops the oldest beyond that (counted and reported in every batch), so a
 * slow or absent NATS connection costs a fixed amount of memory and never slows a download. Publishing is
 * fire-and-forget, like telemetry.
 *
 * Portable: the Node download (client/download.ts), the peer links (client/p2p/link.ts) and the browser engine
 * (web/engine.ts) all use this file, so it imports nothing of Node's.
 */
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../lib/logger.js';
import type { NatsConnection } from '../lib/natsrequest.js';
import { unrefTimer, type Timer } from '../lib/timers.js';
import {
  encode, MAX_INSPECT_EVENT_CHARS, MAX_INSPECT_RECORDS, MAX_INSPECT_STATE_CHARS, Subjects, type InspectActor,
  type InspectBatch, type InspectRecord,
} from '../protocol/mod.js';

/** Which actor a tap watches, as it is named in records and log lines. */
export interface TapTarget {
  machine: InspectActor;
  /** a download's run id (`runId()`), a link's remote peer id */
  id: string;
  videoId: string;
}

export interface TapSinks {
  /** each transition at debug level: `{machine, id, from, to, event}` */
  logger?: Logger;
  /** each transition as a record for the inspector */
  publisher?: Pick<InspectPublisher, 'record'>;
  /** every inspection event, passed on unchanged (tests and benchmarks keep their own histories) */
  next?: (e: InspectionEvent) => void;
}

/**
 * A machine's state value as one string: `active.p2p` for a nested state, regions of a parallel state joined with
 * `,` (`active.a.x,active.b.y`), so a record names the whole configuration.
 */
export function statePath(value: unknown): string {
  const leaves: string[] = [];
  const walk = (v: unknown, prefix: string) => {
    if (typeof v === 'string') leaves.push(prefix + v);
    else if (v && typeof v === 'object') {
      const entries = Object.entries(v);
      if (entries.length === 0 && prefix !== '') leaves.push(prefix.slice(0, -1));
      for (const [k, sub] of entries) walk(sub, `${prefix}${k}.`);
    }
  };
  walk(value, '');
  return leaves.join(',');
}

/** A fresh download run id (`d` + 48 random bits): names a download in records without revealing its session. */
export function runId(): string {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(6));
  return `d${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * An `inspect` callback for `createActor`: the root actor's `@xstate.snapshot` events whose state differs from the
 * last one become transitions (the snapshot's `event` is the one that caused it). Children's events (fetches,
 * session keepers) are passed to `next` only.
 */
export function transitionTap(target: TapTarget, sinks: TapSinks): (e: InspectionEvent) => void {
  let last = '';
  return (e) => {
    sinks.next?.(e);
    if (e.type !== '@xstate.snapshot' || e.actorRef.sessionId !== e.rootId) return;
    const to = statePath((e.snapshot as { value?: unknown }).value);
    if (to === '' || to === last) return;
    const from = last;
    last = to;
    const event = e.event.type;
    sinks.logger?.debug('transition', { machine: target.machine, id: target.id, from: from || null, to, event });
    sinks.publisher?.record({ actor: target.machine, actorId: target.id, videoId: target.videoId, state: to, event,
      t: Date.now() });
  };
}

export interface InspectPublisherInit {
  peerId: string;
  /** batching period (default 250 ms) */
  intervalMs?: number;
  /** records kept while waiting to be sent; the oldest are dropped beyond it (default 256) */
  maxQueue?: number;
}

export interface InspectPublisherStats {
  /** records sent */
  sent: number;
  /** records dropped because the queue was full */
  dropped: number;
  /** messages published */
  batches: number;
}

export interface InspectPublisher {
  /** queues one transition (fields longer than the protocol allows are cut) */
  record(r: InspectRecord): void;
  /** a `transitionTap` publishing here (and logging to `logger`) */
  tap(target: TapTarget, extra?: Omit<TapSinks, 'publisher'>): (e: InspectionEvent) => void;
  /** sends what is queued now */
  flush(): void;
  stats(): InspectPublisherStats;
  /** sends what is queued and stops; later records are ignored */
  stop(): void;
}

export const INSPECT_DEFAULTS = { intervalMs: 250, maxQueue: 256 } as const;

export function createInspectPublisher(
  init: InspectPublisherInit,
  c: { nc: Pick<NatsConnection, 'publish'>; logger?: Logger },
): InspectPublisher {
  const subject = Subjects.inspect(init.peerId);
  const intervalMs = init.intervalMs ?? INSPECT_DEFAULTS.intervalMs;
  const maxQueue = Math.max(1, init.maxQueue ?? INSPECT_DEFAULTS.maxQueue);
  const queue: InspectRecord[] = [];
  const stats: InspectPublisherStats = { sent: 0, dropped: 0, batches: 0 };
  let timer: Timer | null = null;
  let stopped = false;

  const flush = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    while (queue.length > 0) {
      const batch: InspectBatch = { records: queue.splice(0, MAX_INSPECT_RECORDS), dropped: stats.dropped };
      try {
        c.nc.publish(subject, encode(batch));
        stats.sent += batch.records.length;
        stats.batches++;
      } catch (err) {
        // the connection is closing: inspection is best effort and must never break the client
        c.logger?.debug('inspect publish failed', { err });
        queue.length = 0;
      }
    }
  };

  const record = (r: InspectRecord) => {
    if (stopped) return;
    queue.push({ ...r, state: r.state.slice(0, MAX_INSPECT_STATE_CHARS), event: r.event.slice(0, MAX_INSPECT_EVENT_CHARS) });
    if (queue.length > maxQueue) stats.dropped += queue.splice(0, queue.length - maxQueue).length;
    // one timer per batch, only while something waits: an idle client costs nothing
    if (timer === null) {
      timer = setTimeout(flush, intervalMs);
      unrefTimer(timer);
    }
  };

  const self: InspectPublisher = {
    record,
    tap: (target, extra = {}) => transitionTap(target, { ...extra, publisher: self }),
    flush,
    stats: () => ({ ...stats }),
    stop() {
      if (stopped) return;
      flush();
      stopped = true;
    },
  };
  return self;
}
