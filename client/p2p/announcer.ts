/**
 * The swarm's side of the tracker: announces (what we hold, our upload rate and spare slots, the links' RTTs) and
 * offers links to the peers the answer names, again every second while we have fewer links than we want (the
 * tracker's interval after that); and reports our new chunks in batches (at most one message per 250 ms).
 *
 * Of a pair, only the peer that joined later offers (the tracker says which: `PeerListing.offer`): when a crowd
 * starts at once both sides often learn of each other, and crossed offers cost a connection each (measured: a
 * quarter to a third of the attempts of a 10–20 peer flash crowd). A peer told to wait offers anyway after
 * `answerWaitMs` if no link came of it: the other may have links enough, or not follow the rule.
 *
 * The first announce offers only `firstOffers` links. Each link costs ~6 ms of CPU at each end to open, and a
 * crowd that arrives at once opens all of them in its first second: the first few links, the ones that carry
 * the first chunks, then wait behind all the others (measured, 10 clients on 2 cores: set-up p50 210–350 ms with
 * every link at once, 125–180 ms with three first and the rest a second later).
 */
import type { TrackerClient } from '../../actors/tracker/client.js';
import type { Logger } from '../../lib/logger.js';
import type { Timer } from '../../lib/timers.js';
import { encodeBitfield, encodeHeldBitfield, type AnnounceReply } from '../../protocol/mod.js';
import type { ChunkSource } from './types.js';

export interface AnnouncerInit {
  videoId: string;
  peerId: string;
  chunkCount: number;
  uploads: boolean;
  maxPeers: number;
  /** how long to wait for an offer from a peer the tracker says will offer, before offering (default 2000 ms) */
  answerWaitMs?: number;
  /** links offered at the first announce (default 3); the next announce, a second later, offers the rest */
  firstOffers?: number;
}

export interface AnnouncerComponents {
  tracker: Pick<TrackerClient, 'announce' | 'have'>;
  source: Pick<ChunkSource, 'have' | 'held'>;
  logger: Logger;
  /** bytes uploaded so far, and whether an upload slot is free now */
  upload(): { uploadedBytes: number; spare: boolean };
  /** the links we have: how many, and each one's RTT where known */
  linkCount(): number;
  /** whether we have a link (open or opening) with this peer */
  linked(peerId: string): boolean;
  rtts(): Record<string, number>;
  /** offers a link to a peer the tracker named, unless we have one or may not (banned, over a cap) */
  offer(peerId: string): void;
  /** runs link set-up work in the runtime's slices (RtcHost.setup); false: not now (queue full) */
  setup(fn: () => void): boolean;
}

export interface Announcer {
  start(): Promise<void>;
  stop(): void;
  /** a chunk we now hold, for the tracker */
  noteHave(index: number): void;
}

export function createAnnouncer(init: AnnouncerInit, c: AnnouncerComponents): Announcer {
  const { videoId, peerId: self } = init;
  const pendingHaves: number[] = [];
  let announceTimer: Timer | null = null;
  let haveTimer: Timer | null = null;
  let intervalMs = 5000;
  let stopped = false;
  let lastUploaded = 0;
  let lastAnnounceAt = performance.now();
  /** peers the tracker told us will offer, and since when (bounded: at most `want` per answer, pruned below) */
  const awaited = new Map<string, number>();
  const answerWaitMs = init.answerWaitMs ?? 2000;
  let firstAnnounce = true;

  // from the held list when the source has one (a live viewer holds ~100 of 65,536)
  const announcedBitfield = (): string => (c.source.held
    ? encodeHeldBitfield(c.source.held(), init.chunkCount) : encodeBitfield(c.source.have()));

  const offerTo = (peers: AnnounceReply['peers'], now: number) => {
    const listed = new Set(peers.map((p) => p.peerId));
    const want = firstAnnounce ? Math.min(init.maxPeers, init.firstOffers ?? 3) : init.maxPeers;
    firstAnnounce = false;
    for (const p of peers) {
      if (c.linkCount() >= want) break;
      if (p.peerId === self || c.linked(p.peerId)) continue;
      if (p.offer === false) {
        const since = awaited.get(p.peerId) ?? now;
        awaited.set(p.peerId, since);
        if (now - since < answerWaitMs) continue;
      }
      awaited.delete(p.peerId);
      c.offer(p.peerId);
    }
    for (const p of awaited.keys()) if (!listed.has(p) || c.linked(p)) awaited.delete(p);
  };

  const announce = async () => {
    if (stopped) return;
    const now = performance.now();
    const { uploadedBytes: up, spare } = c.upload();
    const uploadBps = Math.round(((up - lastUploaded) * 1000) / Math.max(1, now - lastAnnounceAt));
    lastUploaded = up;
    lastAnnounceAt = now;
    try {
      const reply = await c.tracker.announce(videoId, {
        peerId: self, chunkCount: init.chunkCount, bitfield: announcedBitfield(), uploads: init.uploads,
        uploadBps, spare, want: init.maxPeers * 2, rttMs: c.rtts(),
      });
      intervalMs = reply.intervalMs;
      // offering is set-up work (~3 ms of the loop per link): in one slice, so the count it stops at is exact
      await new Promise<void>((resolve) => {
        const queued = c.setup(() => {
          try {
            if (!stopped) offerTo(reply.peers, now);
          } finally {
            resolve();
          }
        });
        if (!queued) resolve(); // the next announce offers
      });
    } catch (err) {
      c.logger.warn('tracker announce failed', { err: (err as Error).message });
    }
    if (!stopped) {
      announceTimer = setTimeout(() => void announce(),
        Math.min(intervalMs, c.linkCount() < init.maxPeers ? 1000 : intervalMs));
    }
  };

  const flushHaves = () => {
    haveTimer = null;
    if (pendingHaves.length === 0 || stopped) return;
    const batch = pendingHaves.splice(0, 4096);
    void c.tracker.have(videoId, self, batch).catch((err) => c.logger.debug('tracker have failed', { err }));
  };

  return {
    start: () => announce(),
    stop() {
      stopped = true;
      if (announceTimer) clearTimeout(announceTimer);
      if (haveTimer) clearTimeout(haveTimer);
    },
    noteHave(index) {
      pendingHaves.push(index);
      haveTimer ??= setTimeout(flushHaves, 250);
    },
  };
}
