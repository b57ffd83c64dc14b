/**
 * What the swarm-aware origin knows of the swarm: the tracker's state (KV `sy_swarm`, mirrored by a watch) plus
 * the chunks this gateway itself sent in the last few seconds (the receiving peer will hold them before the
 * tracker hears of it). It answers one question per chunk request: could peers serve this chunk instead?
 * Counts are per gateway: with several gateways a chunk may be sent once by each, which only costs a little.
 */
import { decodeBitfield } from '../protocol/mod.js';
import type { Clock } from '../lib/clock.js';
import { BucketSpecs, createKvMirror, openBucket, type BucketOverrides, type MirrorHealth } from '../lib/kv/mod.js';
import type { Logger } from '../lib/logger.js';
import type { NatsConnection } from '../lib/nats.js';
import { swarmCodec, type SwarmPeer } from '../actors/tracker/records.js';

export interface SwarmView {
  /**
   * false when a fresh, uploading peer other than `requester` holds the chunk and has spare upload — or, while
   * clients wait for a slot (`contended`), holds it at all: then a slot is worth more spent on chunks the swarm
   * lacks than on a second copy (super-seeding, decided by the origin).
   */
  originShouldServe(videoId: string, index: number, requester: string, contended?: boolean, budget?: EgressBudget): boolean;
  /** why the origin served or declined, counted (dashboards, benchmarks) */
  stats(): Record<'first' | 'noSpareHolder' | 'valve' | 'declined', number>;
  /** fresh peers of the video that still lack chunks */
  leechers(videoId: string): number;
  /** the origin sent `index` (`bytes` long) to `peerId` */
  noteServed(videoId: string, index: number, peerId: string, bytes?: number): void;
  /** that send did not happen after all (the client went away while queued) */
  forgetServed(videoId: string, index: number, peerId: string, bytes?: number): void;
  /** chunk bytes this gateway sent of a video (what an egress target is measured against) */
  sentBytes(videoId: string): number;
  /**
   * Up to `max` chunks of a `count`-chunk video this gateway has sent to nobody yet, scanned from a point that
   * depends on `requester` (holders told at once are told different ones). A declined turn holder asks for these
   * next: guessing among the chunks its own links do not show, the last turn of a 20-client round took ~90
   * declines for 3 first copies, and one round ended with 2 chunks unsent, which then stalled the whole crowd
   * ~2 s at its end until a parked client reported the lasting need.
   */
  unsent(videoId: string, count: number, requester: string, max: number): number[];
  /** the swarm mirror's health (watch restarts, staleness, skipped entries) */
  health(): MirrorHealth;
  stop(): Promise<void>;
}

/**
 * The operator's egress target for one request (`egressTarget` × the video's size): a second copy is sent only
 * while this gateway's sends of the video, this one and a first copy of every chunk not sent yet stay within
 * `limit` (first copies always go out, so they are reserved); otherwise it is declined whenever any peer holds
 * the chunk. With a target, contention is judged by the budget alone.
 */
export interface EgressBudget {
  /** bytes this gateway may send of the video in all */
  limit: number;
  /** the video's size (the first copies to reserve) */
  videoBytes: number;
  /** this chunk's length */
  bytes: number;
}

export interface SwarmViewInit {
  /** tracker entries older than this are ignored (3 × the tracker's default interval) */
  freshMs?: number;
  /** a chunk the origin just sent counts as held by its receiver for this long */
  graceMs?: number;
  /** a requester still asking this long after its first decline for a chunk is served (peers did not deliver) */
  valveMs?: number;
  /** bucket overrides of this deployment (replicas), used when this view creates `sy_swarm` */
  bucket?: BucketOverrides;
}

export async function createSwarmView(
  init: SwarmViewInit,
  c: { nc: NatsConnection; clock: Clock; logger: Logger },
): Promise<SwarmView> {
  const freshMs = init.freshMs ?? 15000;
  const graceMs = init.graceMs ?? 2000;
  const valveMs = init.valveMs ?? 20000;
  const kv = await openBucket(c.nc, BucketSpecs.swarm, init.bucket);
  // the tracker's own codec: entries are checked here exactly as the tracker checks them
  const mirror = createKvMirror<SwarmPeer>({ kv, codec: swarmCodec }, { logger: c.logger });
  await mirror.start();
  // decoded bitfields, cached by the entry revision they came from
  const bits = new Map<string, { revision: number; have: boolean[] }>();
  // videoId → chunk index → peer id → when the origin sent it
  const sent = new Map<string, Map<number, Map<string, number>>>();
  // videoId → chunk bytes sent, and of them first copies (one pair per video: bounded by the catalog's quota)
  const sentBytes = new Map<string, number>();
  const firstBytes = new Map<string, number>();
  const add = (m: Map<string, number>, videoId: string, n: number) => m.set(videoId, Math.max(0, (m.get(videoId) ?? 0) + n));
  const overBudget = (videoId: string, b: EgressBudget) =>
    (sentBytes.get(videoId) ?? 0) + b.bytes + Math.max(0, b.videoBytes - (firstBytes.get(videoId) ?? 0)) > b.limit;
  // last known: does this peer upload and have spare capacity (refreshed whenever the tracker entries are read)
  const spare = new Map<string, boolean>();

  const holdersFromTracker = function* (videoId: string, index: number, now: number) {
    for (const e of mirror.entries.values()) {
      const v = e.value;
      if (v.videoId !== videoId) continue;
      spare.set(v.peerId, v.uploads && v.spare !== false && now - v.lastSeen <= freshMs);
      if (!v.uploads || now - v.lastSeen > freshMs) continue;
      let b = bits.get(e.key);
      if (!b || b.revision !== e.revision) {
        b = { revision: e.revision, have: decodeBitfield(v.bitfield, v.chunkCount) };
        bits.set(e.key, b);
      }
      if (b.have[index]) yield v;
    }
  };

  /** a peer other than the requester holds the chunk and has spare upload */
  const shouldDecline = (
    videoId: string, index: number, requester: string, copies: Map<string, number>, now: number, contended: boolean,
  ) => {
    for (const v of holdersFromTracker(videoId, index, now)) {
      if (v.peerId !== requester && (contended || v.spare !== false)) return true;
    }
    // a peer we just sent it to holds it before the tracker hears so; it counts only while it can upload more
    for (const [peerId, at] of copies) {
      if (peerId !== requester && now - at < graceMs && (contended ? spare.has(peerId) : spare.get(peerId) === true)) return true;
    }
    return false;
  };
  const declines = new Map<string, number>();
  const counts = { first: 0, noSpareHolder: 0, valve: 0, declined: 0 };

  return {
    originShouldServe(videoId, index, requester, contended = false, budget) {
      const now = c.clock.now();
      const copies = sent.get(videoId)?.get(index);
      // every chunk leaves the origin at least once
      if (!copies || copies.size === 0) {
        counts.first++;
        return true;
      }
      // the holders may be out of the requester's reach (not linked, or leaving): when the peers have had a
      // while to deliver and the requester still asks, serve
      const dk = `${videoId}#${index}#${requester}`;
      const firstDeclined = declines.get(dk);
      if (firstDeclined !== undefined && now - firstDeclined > valveMs) {
        declines.delete(dk);
        counts.valve++;
        return true;
      }
      // over the operator's egress budget, a chunk already sent is not sent again (short of the valve): whoever
      // got it is in the swarm, even before the tracker hears of it
      const spent = budget !== undefined && overBudget(videoId, budget);
      if (!spent && !shouldDecline(videoId, index, requester, copies, now, budget ? false : contended)) {
        declines.delete(dk);
        counts.noSpareHolder++;
        return true;
      }
      if (declines.size > 100_000) declines.clear();
      if (firstDeclined === undefined) declines.set(dk, now);
      counts.declined++;
      return false;
    },

    stats: () => ({ ...counts }),
    forgetServed(videoId, index, peerId, bytes = 0) {
      const copies = sent.get(videoId)?.get(index);
      if (!copies?.delete(peerId) || bytes <= 0) return;
      add(sentBytes, videoId, -bytes);
      if (copies.size === 0) add(firstBytes, videoId, -bytes);
    },
    sentBytes: (videoId) => sentBytes.get(videoId) ?? 0,
    unsent(videoId, count, requester, max) {
      const out: number[] = [];
      if (count <= 0 || max <= 0) return out;
      const byIndex = sent.get(videoId);
      let h = 0;
      for (let k = 0; k < requester.length; k++) h = (Math.imul(h, 31) + requester.charCodeAt(k)) >>> 0;
      const start = h % count;
      for (let k = 0; k < count && out.length < max; k++) {
        const i = (start + k) % count;
        if (!byIndex?.get(i)?.size) out.push(i);
      }
      return out;
    },
    leechers(videoId) {
      const now = c.clock.now();
      let n = 0;
      for (const e of mirror.entries.values()) {
        if (e.value.videoId === videoId && !e.value.complete && now - e.value.lastSeen <= freshMs) n++;
      }
      return n;
    },
    noteServed(videoId, index, peerId, bytes = 0) {
      let byIndex = sent.get(videoId);
      if (!byIndex) {
        byIndex = new Map();
        sent.set(videoId, byIndex);
      }
      let copies = byIndex.get(index);
      if (!copies) {
        copies = new Map();
        byIndex.set(index, copies);
      }
      if (bytes > 0) {
        add(sentBytes, videoId, bytes);
        if (copies.size === 0) add(firstBytes, videoId, bytes);
      }
      copies.set(peerId, c.clock.now());
      if (copies.size > 256) copies.delete(copies.keys().next().value!);
    },
    health: () => mirror.health(),
    stop: () => mirror.stop(),
  };
}
