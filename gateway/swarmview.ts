/**
 * What the swarm-aware origin knows of the swarm: the tracker's state (KV `sy_swarm`, mirrored by a watch) plus
 * the chunks this gateway itself sent in the last few seconds (the receiving peer will hold them before the
 * tracker hears of it). It answers one question per chunk request: could peers serve this chunk instead?
 * Counts are per gateway: with several gateways a chunk may be sent once by each, which only costs a little.
 */
import { Kvm } from '@nats-io/kv';
import { Buckets, decodeBitfield } from '../protocol/mod.js';
import type { Clock } from '../lib/clock.js';
import { createKvMirror, type KvMirror } from '../lib/kvmirror.js';
import type { Logger } from '../lib/logger.js';
import type { NatsConnection } from '../lib/nats.js';

interface SwarmEntry {
  peerId: string;
  videoId: string;
  chunkCount: number;
  bitfield: string;
  uploads: boolean;
  spare?: boolean;
  lastSeen: number;
}

export interface SwarmView {
  /** false when a fresh, uploading peer other than `requester` holds the chunk and has spare upload */
  originShouldServe(videoId: string, index: number, requester: string): boolean;
  /** the origin sent `index` to `peerId` */
  noteServed(videoId: string, index: number, peerId: string): void;
  stop(): Promise<void>;
}

export interface SwarmViewInit {
  /** tracker entries older than this are ignored (3 × the tracker's default interval) */
  freshMs?: number;
  /** a chunk the origin just sent counts as held by its receiver for this long */
  graceMs?: number;
}

export async function createSwarmView(
  init: SwarmViewInit,
  c: { nc: NatsConnection; clock: Clock; logger: Logger },
): Promise<SwarmView> {
  const freshMs = init.freshMs ?? 15000;
  const graceMs = init.graceMs ?? 5000;
  const kv = await new Kvm(c.nc).create(Buckets.swarm, { history: 1 });
  const mirror: KvMirror<SwarmEntry> = await createKvMirror<SwarmEntry>(kv,
    (_k, b) => JSON.parse(new TextDecoder().decode(b)) as SwarmEntry, c.logger);
  await mirror.ready;
  // decoded bitfields, cached by the entry revision they came from
  const bits = new Map<string, { revision: number; have: boolean[] }>();
  // videoId → chunk index → peer id → when the origin sent it
  const sent = new Map<string, Map<number, Map<string, number>>>();
  const uploaders = new Map<string, boolean>();

  const holdersFromTracker = function* (videoId: string, index: number, now: number) {
    for (const e of mirror.entries.values()) {
      const v = e.value;
      if (v.videoId !== videoId) continue;
      uploaders.set(v.peerId, v.uploads);
      if (!v.uploads || now - v.lastSeen > freshMs) continue;
      let b = bits.get(e.key);
      if (!b || b.revision !== e.revision) {
        b = { revision: e.revision, have: decodeBitfield(v.bitfield, v.chunkCount) };
        bits.set(e.key, b);
      }
      if (b.have[index]) yield v;
    }
  };

  return {
    originShouldServe(videoId, index, requester) {
      const now = c.clock.now();
      const copies = sent.get(videoId)?.get(index);
      // every chunk leaves the origin at least once
      if (!copies || copies.size === 0) return true;
      for (const v of holdersFromTracker(videoId, index, now)) {
        if (v.peerId !== requester && v.spare !== false) return false;
      }
      for (const [peerId, at] of copies) {
        if (peerId !== requester && now - at < graceMs && uploaders.get(peerId) !== false) return false;
      }
      return true;
    },
    noteServed(videoId, index, peerId) {
      let byIndex = sent.get(videoId);
      if (!byIndex) sent.set(videoId, (byIndex = new Map()));
      let copies = byIndex.get(index);
      if (!copies) byIndex.set(index, (copies = new Map()));
      copies.set(peerId, c.clock.now());
      if (copies.size > 256) copies.delete(copies.keys().next().value!);
    },
    stop: () => mirror.stop(),
  };
}
