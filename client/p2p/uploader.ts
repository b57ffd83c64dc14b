/**
 * Uploader side of the data plane: which peers may request (choking), and sending pieces fairly.
 * - Upload slots: at most `slots` peers are unchoked at once. Every `rechokeMs` the slots go to the interested
 *   peers that gave us the most bytes lately (tit-for-tat while downloading; among equals, as at a crowd's start,
 *   those that lack the most) or, once we hold everything, to the peers furthest behind, then those we served
 *   least lately (a seed helps the last ones finish); plus one optimistic slot that rotates so a newcomer with
 *   nothing to offer still gets started. A choked peer's queued requests are rejected at once, so its downloader
 *   re-asks elsewhere instead of waiting.
 * - Order: the transfer closest to done goes first, so chunks leave whole one after another (each is
 *   re-uploadable by its receiver as soon as possible). Of the requests waiting, a chunk nobody has had from us
 *   yet goes before another copy of one we already sent, then the peer that lacks the most (need.ts: one holding
 *   nothing is an idle uploader until it gets a chunk; the last one decides when the crowd is done), then the
 *   longest waiting, so a peer with a deep request pipeline waits behind the others' older requests. Once a
 *   chunk reached one peer, the others queued here for it are sent to find it elsewhere when we hold something
 *   fresh for them (spread.ts): the swarm gains distinct chunks sooner.
 * - Backpressure: a link whose send buffer is above the high-water mark is skipped until it drains; when every
 *   link is full the loop waits for a drain instead of queueing more bytes in native memory.
 */
import type { Logger } from '../../lib/logger.js';
import { unrefTimer } from '../../lib/timers.js';
import type { TokenBucket } from '../../lib/tokenbucket.js';
import { BLOCK_SIZE, RejectReasons } from '../../protocol/wire.js';
import { createNeed } from './need.js';
import { createSpread } from './spread.js';
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
  /** how many chunks the remote still lacks (from its bitfield): who needs our upload most (need.ts) */
  lacking?(peerId: string): number;
  /** whether the remote's bitfield holds `index` (the receipts that catch a bitfield lying; need.ts) */
  remoteHas?(peerId: string, index: number): boolean;
  /** the remote lacks a chunk we hold that `pick` accepts (from its bitfield) */
  lacksAny?(peerId: string, pick: (index: number) => boolean): boolean;
}

interface PeerState {
  io: LinkIO;
  choked: boolean;
  queue: number[];
  /** transfer in progress, and when its request was queued */
  current: { index: number; data: Uint8Array; offset: number; since: number } | null;
  /** when the oldest request in `queue` was queued (Infinity: empty) */
  queuedSince: number;
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
  /**
   * Our holdings changed (a new chunk): a choked peer may want something now, and an idle slot should go to it
   * at once rather than at the next rechoke.
   */
  refill(): void;
  stats(): { uploadedBytes: number; byPeer: Record<string, number>; unchoked: string[] };
  /** it could upload more: below 80 % of its cap over the last rechoke interval, or (no cap) a free slot */
  spare(): boolean;
  stop(): void;
}

/** `next()` ranks of a transfer not started yet: a fresh chunk before a copy (both after every started one) */
const FRESH = Number.MAX_SAFE_INTEGER;
const COPY = Infinity;

export function createUploader(init: UploaderInit, c: UploaderComponents): Uploader {
  const peers = new Map<string, PeerState>();
  let uploaded = 0;
  let running = true;
  let looping = false;
  let optimistic: string | null = null;
  let lastRate = 0;
  let lastRechoke = performance.now();
  const spread = createSpread({ ...(c.lacksAny ? { lacksAny: c.lacksAny } : {}) });
  /** who lacks the most, from bitfields that receipts keep honest (none without `lacking`: arrival order) */
  const need = c.lacking ? createNeed({}, { lacking: c.lacking, remoteHas: c.remoteHas ?? (() => true), logger: c.logger }) : null;
  /** `next()` rank of a request not started yet */
  const kindOf = (p: PeerState) => (spread.fresh(p.queue[0]!) ? FRESH : COPY);

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
    // a seed gives its slots to the peers furthest behind (they decide when the last one is done), then to those
    // it served least; a leecher to those that gave it most (tit-for-tat), and among equals (a crowd's start:
    // nobody gave anything yet) to those that lack the most
    const needs = new Map(interested.map((p) => [p, need?.of(p.io.peerId) ?? 0]));
    const ranked = interested.sort((a, b) => (seed
      ? needs.get(b)! - needs.get(a)! || a.sentRecent - b.sentRecent
      : b.gotRecent - a.gotRecent || needs.get(b)! - needs.get(a)!));
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

  /**
   * Work-conserving slots: the upload must not sit idle while a linked peer lacks a chunk we hold. A slot whose
   * peer asks for nothing and wants nothing of ours goes to a choked peer that wants something; free slots fill
   * the same way. The rechoke still decides who keeps slots under contention (tit-for-tat, optimistic).
   */
  let lastRefill = 0;
  const refill = () => {
    if (!init.enabled || !running) return;
    lastRefill = performance.now();
    const list = [...peers.values()];
    const wanting = list.filter((p) => p.choked && c.wants(p.io.peerId));
    if (wanting.length === 0) return;
    if (need && wanting.length > 1) {
      const needs = new Map(wanting.map((p) => [p, need.of(p.io.peerId)]));
      wanting.sort((a, b) => needs.get(b)! - needs.get(a)!);
    }
    let unchoked = list.filter((p) => !p.choked).length;
    const idle = list.filter((p) => !p.choked && !p.current && p.queue.length === 0 && !c.wants(p.io.peerId));
    for (const w of wanting) {
      if (unchoked < init.slots) {
        setChoke(w, false);
        unchoked++;
        continue;
      }
      const spare = idle.pop();
      if (!spare) break;
      setChoke(spare, true);
      setChoke(w, false);
    }
  };
  /** at most every 100 ms (the last call is never lost): each reads every peer's wants (O(peers × chunks held)) */
  let refillTimer: ReturnType<typeof setTimeout> | null = null;
  const refillSoon = () => {
    const wait = 100 - (performance.now() - lastRefill);
    if (wait <= 0) return refill();
    refillTimer ??= setTimeout(() => {
      refillTimer = null;
      refill();
    }, wait);
  };

  /**
   * The transfer to advance next: the one closest to done (then the longest waiting). Finishing chunks one after
   * another instead of interleaving them makes each one whole, verified and re-uploadable by its receiver 4 ×
   * sooner at 4 active transfers, which is what spreads a new chunk through a swarm; over a rechoke interval every
   * unchoked peer still gets its turn, since a new transfer waits behind every older one.
   */
  const next = (): PeerState | null => {
    let best: PeerState | null = null;
    let bestLeft = Infinity;
    let bestSince = Infinity;
    const waiting: PeerState[] = [];
    for (const p of peers.values()) {
      if (!p.current && (p.choked || p.queue.length === 0)) continue;
      if (p.io.bufferedAmount() > init.highWaterBytes) continue;
      if (!p.current) waiting.push(p);
      const left = p.current ? p.current.data.byteLength - p.current.offset : kindOf(p);
      const since = p.current ? p.current.since : p.queuedSince;
      if (left < bestLeft || (left === bestLeft && since < bestSince)) {
        best = p;
        bestLeft = left;
        bestSince = since;
      }
    }
    if (best === null || best.current || waiting.length < 2 || need === null) return best;
    // a transfer to start: of the requests of its kind, the one of the peer that needs us most (then the oldest)
    let most = need.of(best.io.peerId);
    for (const p of waiting) {
      if (p === best || kindOf(p) !== bestLeft) continue;
      const n = need.of(p.io.peerId);
      if (n > most || (n === most && p.queuedSince < best.queuedSince)) {
        best = p;
        most = n;
      }
    }
    return best;
  };

  async function loop() {
    if (looping) return;
    looping = true;
    try {
      while (running) {
        const p = next();
        if (!p) {
          const busy = [...peers.values()].some((q) => q.current || (!q.choked && q.queue.length > 0));
          if (!busy) {
            refillSoon(); // idle: hand slots to whoever wants what we hold
            return;
          }
          // every link with work is above its high-water mark: wait for a drain (kick) or a short tick
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        if (!p.current) {
          const index = p.queue.shift();
          if (index === undefined) continue; // drained by a cancel or choke during an await
          const since = p.queuedSince;
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
          p.current = { index, data, offset: 0, since };
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
        if (cur.offset >= cur.data.byteLength) {
          p.current = null;
          need?.sent(p.io.peerId, cur.index, p.io.bufferedAmount());
          spread.reached(p, cur.index, peers.values());
          // its next chunk queues behind everyone already waiting: chunks take turns between peers
          p.queuedSince = p.queue.length > 0 ? performance.now() : Infinity;
        }
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
      const p: PeerState = { io, choked: true, queue: [], queuedSince: Infinity, current: null, lastRequestAt: 0, gotRecent: 0, sentRecent: 0, sentTotal: 0 };
      peers.set(io.peerId, p);
      if (init.enabled && unchokedCount() < init.slots) setChoke(p, false);
    },
    removePeer(peerId) {
      peers.delete(peerId);
      need?.forget(peerId);
      if (optimistic === peerId) optimistic = null;
    },
    onRequest(peerId, index) {
      const p = peers.get(peerId);
      if (!p) return;
      p.lastRequestAt = Date.now();
      if (!init.enabled || p.choked) {
        p.io.sendReject(index, RejectReasons.choked);
        refillSoon(); // it wants something: a slot may be idle
        return;
      }
      if (!c.source.has(index)) {
        p.io.sendReject(index, RejectReasons.notHave);
        return;
      }
      // the one in transfer counts too: every request accepted is one more chunk ahead of the next requester
      const queuedTotal = init.maxQueuedTotal === undefined ? 0
        : [...peers.values()].reduce((n, q) => n + q.queue.length + (q.current ? 1 : 0), 0);
      if (p.queue.length >= init.maxQueued || p.queue.includes(index) || p.current?.index === index ||
          (init.maxQueuedTotal !== undefined && queuedTotal >= init.maxQueuedTotal)) {
        p.io.sendReject(index, RejectReasons.overloaded);
        return;
      }
      if (p.queue.length === 0) p.queuedSince = performance.now();
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
    refill: refillSoon,
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
      if (refillTimer) clearTimeout(refillTimer);
      peers.clear();
    },
  };
}
