/**
 * The inspector's aggregator: subscribes to `sy.inspect.*`, checks every batch (size, JSON, schema;
 * protocol/inspect.ts) and keeps, per client, the current state of each of its machines and its recent
 * transitions. The peer id comes from the subject, which a peer's NATS credential lets it publish only as itself
 * (protocol/permissions.ts), so a client can only ever fill its own entry.
 *
 * Bounded everywhere, since ids are chosen by clients: at most `maxClients` clients (the one heard from least
 * recently goes first), `maxActors` machines per client (likewise), `maxTimeline` transitions per client, and a
 * client silent for `forgetMs` is forgotten. Inspection is informational: a bad batch is dropped with a debug line
 * and never throws.
 */
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection, Subscription } from '../../lib/nats.js';
import { decodeInspectBatch, parseInspectSubject, Subjects, type InspectBatch } from '../../protocol/mod.js';
import type { InspectedActor, InspectedClient, InspectedTransition, InspectorState } from './state.js';

export interface InspectAggregatorInit {
  /** clients kept at once (default 100) */
  maxClients?: number;
  /** machines kept per client (default 32: a download and its links) */
  maxActors?: number;
  /** transitions kept per client (default 60) */
  maxTimeline?: number;
  /** a client silent this long is forgotten (default 60 s) */
  forgetMs?: number;
}

export interface InspectAggregator {
  start(): void;
  stop(): Promise<void>;
  /** takes one raw message as if received on `subject`; false when it was dropped (used by `start`, and tests) */
  accept(subject: string, data: Uint8Array): boolean;
  state(): InspectorState;
}

export const INSPECTOR_DEFAULTS = { maxClients: 100, maxActors: 32, maxTimeline: 60, forgetMs: 60_000 } as const;

interface Entry {
  peerId: string;
  firstSeenAt: number;
  lastSeenAt: number;
  dropped: number;
  /** `<actor>/<actorId>` → current state; insertion order = least recently changed first */
  actors: Map<string, InspectedActor>;
  timeline: InspectedTransition[];
}

export function createInspectAggregator(
  init: InspectAggregatorInit,
  c: { nc: Pick<NatsConnection, 'subscribe'>; logger: Logger; clock: Clock },
): InspectAggregator {
  const limits = { ...INSPECTOR_DEFAULTS, ...init };
  const { logger, clock } = c;
  // insertion order = receipt order (re-inserted on every message): the front is the client heard from least recently
  const clients = new Map<string, Entry>();
  let sub: Subscription | null = null;
  let sweeper: ReturnType<typeof setInterval> | null = null;

  const sweep = () => {
    const cutoff = clock.now() - limits.forgetMs;
    for (const [peerId, e] of clients) {
      if (e.lastSeenAt > cutoff) break;
      clients.delete(peerId);
    }
  };

  const apply = (e: Entry, batch: InspectBatch) => {
    e.dropped = Math.max(e.dropped, batch.dropped);
    for (const r of batch.records) {
      const key = `${r.actor}/${r.actorId}`;
      const prev = e.actors.get(key);
      e.timeline.push({ actor: r.actor, actorId: r.actorId, videoId: r.videoId, from: prev?.state ?? null, to: r.state,
        event: r.event, t: r.t });
      e.actors.delete(key);
      e.actors.set(key, { actor: r.actor, actorId: r.actorId, videoId: r.videoId, state: r.state, event: r.event, t: r.t });
      while (e.actors.size > limits.maxActors) e.actors.delete(e.actors.keys().next().value!);
    }
    if (e.timeline.length > limits.maxTimeline) e.timeline.splice(0, e.timeline.length - limits.maxTimeline);
  };

  const accept = (subject: string, data: Uint8Array): boolean => {
    let peerId: string;
    let batch: InspectBatch;
    try {
      ({ peerId } = parseInspectSubject(subject));
      batch = decodeInspectBatch(data);
    } catch (err) {
      logger.debug('inspect batch dropped', { subject, err });
      return false;
    }
    const now = clock.now();
    const e: Entry = clients.get(peerId) ?? { peerId, firstSeenAt: now, lastSeenAt: now, dropped: 0, actors: new Map(),
      timeline: [] };
    e.lastSeenAt = now;
    clients.delete(peerId);
    clients.set(peerId, e);
    while (clients.size > limits.maxClients) clients.delete(clients.keys().next().value!);
    apply(e, batch);
    return true;
  };

  const view = (e: Entry): InspectedClient => {
    const actors = [...e.actors.values()];
    return {
      peerId: e.peerId, firstSeenAt: e.firstSeenAt, lastSeenAt: e.lastSeenAt, dropped: e.dropped,
      downloads: actors.filter((a) => a.actor === 'download'),
      links: actors.filter((a) => a.actor === 'peerLink').sort((a, b) => (a.actorId < b.actorId ? -1 : 1)),
      timeline: [...e.timeline],
    };
  };

  return {
    start() {
      if (sub) return;
      sub = c.nc.subscribe(Subjects.inspectAll, {
        callback: (err, msg) => {
          if (err) {
            logger.warn('inspect subscription error', { err });
            return;
          }
          accept(msg.subject, msg.data);
        },
      });
      sweeper = setInterval(sweep, Math.min(5000, limits.forgetMs));
      sweeper.unref?.();
    },
    async stop() {
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
      const s = sub;
      sub = null;
      if (s && !s.isClosed()) s.unsubscribe();
      clients.clear();
    },
    accept,
    state() {
      sweep();
      const out = [...clients.values()].map(view).sort((a, b) => a.firstSeenAt - b.firstSeenAt ||
        (a.peerId < b.peerId ? -1 : 1));
      return { at: clock.now(), clients: out, limits: { maxClients: limits.maxClients, maxActors: limits.maxActors,
        maxTimeline: limits.maxTimeline, forgetMs: limits.forgetMs } };
    },
  };
}
