/**
 * Uploader side of the data plane: which peers may request (choking), and sending pieces fairly.
 * - Upload slots: at most `slots` peers are unchoked at once. Every `rechokeMs` the slots go to the interested
 *   peers that gave us the most bytes lately (tit-for-tat while downloading) or, once we hold everything, to
 *   the peers we served least lately (spreading a seed's upload), plus one optimistic slot that rotates so a
 *   newcomer with nothing to offer still gets started. A choked peer's queued requests are rejected at once, so
 *   its downloader re-asks elsewhere instead of waiting.
 * - Fairness: active transfers are served one block at a time in round robin, so one greedy peer with a deep
 *   request pipeline cannot starve the others.
 * - Backpressure: a link whose send buffer is above the high-water mark is skipped until it drains; when every
 *   link is full the loop waits for a drain instead of queueing more bytes in native memory.
 */
import type { Logger } from '../../lib/logger.js';
import { unrefTimer } from '../../lib/timers.js';
import type { TokenBucket } from '../../lib/tokenbucket.js';
import { BLOCK_SIZE, RejectReasons } from '../../protocol/wire.js';
import type { ChunkSource, LinkIO } from './types.js';

export interface UploaderInit {
  /** serve chunks at all (false: a consume-only peer) */
  enabled: boolean;
  slots: number;
  rechokeMs: number;
  /** bytes queued in a link's send buffer before we stop adding to it */
  highWaterBytes: number;
  /** per-peer queue limit; more requests are rejected as overloaded */
  maxQueued: number;
  /**
   * limit on requests accepted across all peers, queued or in transfer (default none): a live stream's requester
   * is better served by another holder than by a place at the back of a long queue, so a live uploader says
   * `overloaded` early
   */
  maxQueuedTotal?: number;
}

export interface UploaderComponents {
  source: ChunkSource;
  logger: Logger;
  /** upload bandwidth emulation / cap (optional) */
  limiter?: TokenBucket;
  /** true when this peer holds every chunk (seed policy) */
  complete(): boolean;
  /**
   * true when the remote lacks chunks we hold. A choked peer cannot request, so without this it could never
   * show interest and would stay choked forever (BitTorrent's `interested` message, derived from bitfields).
   */
  wants(peerId: string): boolean;
}

interface PeerState {
  io: LinkIO;
  choked: boolean;
  queue: number[];
  /** transfer in progress */
  current: { index: number; data: Uint8Array; offset: number } | null;
  lastRequestAt: number;
  /** bytes they sent us / we sent them since the last rechoke */
  gotRecent: number;
  sentRecent: number;
  sentTotal: number;
}

export interface Uploader {
  addPeer(io: LinkIO): void;
  removePeer(peerId: string): void;
  onRequest(peerId: string, index: number): void;
  onCancel(peerId: string, index: number): void;
  /** bytes downloaded from this peer (tit-for-tat input) */
  noteReceived(peerId: string, bytes: number): void;
  /** a link's buffer drained: resume sending */
  kick(): void;
  stats(): { uploadedBytes: number; byPeer: Record<string, number>; unchoked: string[] };
  /** it could upload more: below 80 % of its cap over the last rechoke interval, or (no cap) a free slot */
  spare(): boolean;
  stop(): void;
}

export function createUploader(init: UploaderInit, c: UploaderComponents): Uploader {
  const peers = new Map<string, PeerState>();
  let uploaded = 0;
  let running = true;
  let looping = false;
  let optimistic: string | null = null;
  let lastRate = 0;
  let lastRechoke = performance.now();
  let rr = 0;

  const setChoke = (p: PeerState, choked: boolean) => {
    if (p.choked === choked) return;
    p.choked = choked;
    if (choked) {
      p.io.sendChoke();
      // queued requests are refused at once; a chunk already on its way is finished, since dropping it would
      // throw away the upload already spent on it
      for (const index of p.queue.splice(0)) p.io.sendReject(index, RejectReasons.choked);
    } else {
      p.io.sendUnchoke();
    }
  };

  const rechoke = () => {
    if (!init.enabled) return;
    const t = performance.now();
    lastRate = ([...peers.values()].reduce((a, p) => a + p.sentRecent, 0) * 1000) / Math.max(1, t - lastRechoke);
    lastRechoke = t;
    const now = Date.now();
    const interested = [...peers.values()].filter((p) => p.queue.length > 0 || p.current ||
      now - p.lastRequestAt < 2 * init.rechokeMs || c.wants(p.io.peerId));
    const seed = c.complete();
    const ranked = interested.sort((a, b) => (seed ? a.sentRecent - b.sentRecent : b.gotRecent - a.gotRecent));
    const keep = new Set(ranked.slice(0, Math.max(1, init.slots - 1)).map((p) => p.io.peerId));
    const rest = ranked.filter((p) => !keep.has(p.io.peerId));
    if (rest.length > 0) {
      optimistic = rest[Math.floor(Math.random() * rest.length)]!.io.peerId;
      keep.add(optimistic);
    }
    // idle peers keep a slot only while slots are free, so a new request is served without waiting
    for (const p of peers.values()) {
      if (!keep.has(p.io.peerId) && keep.size < init.slots && !p.choked) keep.add(p.io.peerId);
    }
    for (const p of peers.values()) {
      setChoke(p, !keep.has(p.io.peerId));
      p.gotRecent = 0;
      p.sentRecent = 0;
    }
  };
  const timer = setInterval(rechoke, init.rechokeMs);
  unrefTimer(timer);

  const unchokedCount = () => [...peers.values()].filter((p) => !p.choked).length;

  async function loop() {
    if (looping) return;
    looping = true;
    try {
      while (running) {
        const active = [...peers.values()].filter((p) => p.current || (!p.choked && p.queue.length > 0));
        if (active.length === 0) return;
        let sent = false;
        for (let k = 0; k < active.length; k++) {
          const p = active[(rr + k) % active.length]!;
          if (p.io.bufferedAmount() > init.highWaterBytes) continue;
          if (!p.current) {
            if (p.choked) continue;
            const index = p.queue.shift();
            if (index === undefined) continue; // drained by a cancel or choke during an await
            let data: Uint8Array;
            try {
              data = await c.source.read(index);
            } catch (err) {
              c.logger.warn('cannot read chunk for upload', { index, err });
              p.io.sendReject(index, RejectReasons.notHave);
              continue;
            }
            if (!peers.has(p.io.peerId) || p.choked) {
              p.io.sendReject(index, RejectReasons.choked);
              continue;
            }
            p.current = { index, data, offset: 0 };
          }
          const cur = p.current!;
          const block = cur.data.subarray(cur.offset, Math.min(cur.offset + BLOCK_SIZE, cur.data.byteLength));
          if (c.limiter) await c.limiter.take(block.byteLength);
          if (p.current !== cur || !peers.has(p.io.peerId)) continue; // cancelled or choked meanwhile
          if (!p.io.sendPiece(cur.index, cur.offset, cur.data.byteLength, block)) {
            p.current = null;
            continue;
          }
          cur.offset += block.byteLength;
          uploaded += block.byteLength;
          p.sentRecent += block.byteLength;
          p.sentTotal += block.byteLength;
          if (cur.offset >= cur.data.byteLength) p.current = null;
          sent = true;
        }
        rr++;
        // every link is above its high-water mark: wait for a drain (kick) or a short tick
        if (!sent) await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      looping = false;
    }
  }

  const kick = () => {
    if (running) void loop().catch((err) => c.logger.warn('upload loop failed', { err }));
  };

  return {
    addPeer(io) {
      const p: PeerState = { io, choked: true, queue: [], current: null, lastRequestAt: 0, gotRecent: 0, sentRecent: 0, sentTotal: 0 };
      peers.set(io.peerId, p);
      if (init.enabled && unchokedCount() < init.slots) setChoke(p, false);
    },
    removePeer(peerId) {
      peers.delete(peerId);
      if (optimistic === peerId) optimistic = null;
    },
    onRequest(peerId, index) {
      const p = peers.get(peerId);
      if (!p) return;
      p.lastRequestAt = Date.now();
      if (!init.enabled || p.choked) {
        p.io.sendReject(index, RejectReasons.choked);
        return;
      }
      if (!c.source.has(index)) {
        p.io.sendReject(index, RejectReasons.notHave);
        return;
      }
      // the one in transfer counts too: the loop serves every peer's current chunk round robin, so each one
      // accepted delays all the others
      const queuedTotal = init.maxQueuedTotal === undefined ? 0
        : [...peers.values()].reduce((n, q) => n + q.queue.length + (q.current ? 1 : 0), 0);
      if (p.queue.length >= init.maxQueued || p.queue.includes(index) || p.current?.index === index ||
          (init.maxQueuedTotal !== undefined && queuedTotal >= init.maxQueuedTotal)) {
        p.io.sendReject(index, RejectReasons.overloaded);
        return;
      }
      p.queue.push(index);
      kick();
    },
    onCancel(peerId, index) {
      const p = peers.get(peerId);
      if (!p) return;
      p.queue = p.queue.filter((i) => i !== index);
      if (p.current?.index === index) p.current = null;
    },
    noteReceived(peerId, bytes) {
      const p = peers.get(peerId);
      if (p) p.gotRecent += bytes;
    },
    kick,
    stats() {
      const byPeer: Record<string, number> = {};
      for (const p of peers.values()) byPeer[p.io.peerId] = p.sentTotal;
      return { uploadedBytes: uploaded, byPeer, unchoked: [...peers.values()].filter((p) => !p.choked).map((p) => p.io.peerId) };
    },
    spare() {
      if (!init.enabled) return false;
      // a known cap says it best; without one, a free upload slot is the only sign of idle upload
      if (c.limiter) return lastRate < 0.8 * c.limiter.rate;
      return unchokedCount() < init.slots;
    },
    stop() {
      running = false;
      clearInterval(timer);
      peers.clear();
    },
  };
}
