/**
 * What the player waits for, first. A chunk a read needs and the engine does not hold is fetched at once, outside
 * the download machine's rarest-first order: from the least busy unchoked peer that has it (or the origin while
 * the machine holds a grant), and with a player the next seconds of the stream after each read too (read-ahead).
 *
 * Priority over the machine's own peer requests: while an urgent request is on the wire to a peer, background
 * peer requests wait before they are sent (`backgroundTurn`), since a peer's upload is shared round robin between
 * everything asked of it and a background chunk sent now would slow the one the player waits for. An urgent chunk
 * with no peer to ask yet keeps them waiting for up to `holdMs` (links still opening: the first unchoked peer with
 * the chunk should serve the player, not a burst queued before it); with a player they also wait for its first
 * read (at most `playerWaitMs`). The origin's bandwidth is separate and never waits.
 *
 * Bounded: at most `parallel` urgent requests at once; a fetch that nobody waits for any more (a seek away, a
 * read-ahead) gives up when no source has its chunk, leaving it to the machine. A wrong chunk from a peer bans it
 * (`ban`: the same swarm ban as the machine's).
 */
import { FetchFailure } from '../client/http.js';
import type { Swarm } from '../client/p2p/swarm.js';
import type { Logger } from '../lib/logger.js';
import { emptyPeer, withBitfield, withHave, type PeerView } from '../machines/download/peers.js';
import type { ChunkSource } from '../machines/download/types.js';
import { chunksOfRange, streamDuration, type Manifest } from '../protocol/mod.js';

export interface UrgentInit {
  manifest: Manifest;
  /** urgent requests at once (default 4) */
  parallel?: number;
  /** a player is about to read: background peer requests wait for its first read */
  player: boolean;
  playerWaitMs?: number;
  /** seconds of the stream fetched urgently after each read, with a player (default 8) */
  readAheadSec?: number;
  /** how long an urgent chunk with no peer to ask holds background requests back (default 2000 ms) */
  holdMs?: number;
  /**
   * our urgent requests in flight to one peer (default 2). A peer answers a burst of requests with one burst of
   * data, and a burst larger than the receiving UDP socket's buffer loses its tail (measured here: 256 KiB asked
   * of one seeder at once lost part of its last chunk, which then waited ~400 ms for an SCTP retransmission)
   */
  perPeer?: number;
}

export interface UrgentComponents {
  swarm: Pick<Swarm, 'subscribe' | 'ban'>;
  /** held chunks */
  has(index: number): boolean;
  /** fetch, verify, store (wakes waiters through `arrived`); throws FetchFailure */
  fetch(source: ChunkSource, index: number): Promise<unknown>;
  /** the machine's grant while it holds an origin slot */
  grant(): string | null;
  logger: Logger;
}

export interface Urgent {
  /** resolves once chunk `index` is held (fetching it urgently if needed); rejects when `signal` aborts */
  ensure(index: number, signal?: AbortSignal): Promise<void>;
  /** a chunk was stored (by any path): wakes its waiters */
  arrived(index: number): void;
  /** after a read that ended at byte `end`: the next seconds of the stream, urgently (with a player) */
  readAhead(end: number): void;
  /** the player made its first read */
  playerArrived(): void;
  /** waits while urgent requests to peers are on the wire (the machine's peer fetches call it first) */
  backgroundTurn(signal?: AbortSignal): Promise<void>;
  /** the urgent fetch of `index` in progress, if any */
  pending(index: number): Promise<void> | undefined;
  /** remote peers with an open link */
  readonly peers: number;
  stop(): void;
}

export function createUrgent(init: UrgentInit, c: UrgentComponents): Urgent {
  const { manifest } = init;
  const count = manifest.chunks.length;
  const parallel = Math.max(1, init.parallel ?? 4);
  const holdMs = init.holdMs ?? 2000;
  const perPeer = Math.max(1, init.perPeer ?? 2);
  const log = c.logger;
  const waiters = new Map<number, Set<() => void>>();
  const running = new Map<number, Promise<void>>();
  /** our urgent requests in flight, per peer */
  const load = new Map<string, number>();
  let inFlight = 0;
  const slotQueue: Array<() => void> = [];
  let stopped = false;

  /** what each linked peer holds and whether it lets us ask, from the swarm's events */
  const peers = new Map<string, PeerView>();
  /**
   * Fetches waiting for a source, woken by news from the swarm (a link, a have, an unchoke), and fetches waiting
   * for a busy peer, woken also when one of our requests ends. Never the first kind on a request's end: a request
   * that fails at once would wake the others into requests that fail at once, a loop of microtasks that never
   * lets the page's thread go (seen: a renderer at 100 % CPU).
   */
  const sourceWaiters = new Set<() => void>();
  const slotWaiters = new Set<() => void>();
  const wakeAll = (set: Set<() => void>) => {
    for (const w of [...set]) w();
  };
  const unsubscribe = c.swarm.subscribe((e) => {
    wakeAll(sourceWaiters);
    wakeAll(slotWaiters);
    const cur = peers.get(e.peerId) ?? emptyPeer(count);
    if (e.type === 'peer.left') peers.delete(e.peerId);
    else if (e.type === 'peer.bitfield') peers.set(e.peerId, withBitfield(cur, e.have, count));
    else if (e.type === 'peer.have') peers.set(e.peerId, withHave(cur, e.index));
    else if (e.type === 'peer.unchoked') peers.set(e.peerId, { ...cur, unchoked: true });
    else if (e.type === 'peer.choked') peers.set(e.peerId, { ...cur, unchoked: false });
    else peers.set(e.peerId, cur);
  });

  // ---- the gate background peer requests wait at ----
  // a player counts as urgent until its first read (or until it took too long to make one)
  let active = init.player ? 1 : 0;
  let playerPending = init.player;
  const gate: Array<() => void> = [];
  const begin = () => {
    active++;
  };
  const end = () => {
    active--;
    if (active === 0) for (const w of gate.splice(0)) w();
  };
  const playerArrived = () => {
    if (!playerPending) return;
    playerPending = false;
    end();
  };
  const playerTimer = playerPending ? setTimeout(playerArrived, init.playerWaitMs ?? 5000) : null;

  const takeSlot = async () => {
    if (inFlight < parallel) {
      inFlight++;
      return;
    }
    await new Promise<void>((resolve) => slotQueue.push(resolve));
  };
  const giveSlot = () => {
    const next = slotQueue.shift();
    if (next) next();
    else inFlight--;
  };

  /** resolves when woken through `set` (see above), or after `ms` */
  const wait = (set: Set<() => void>, ms: number) => new Promise<void>((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      set.delete(wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    set.add(wake);
  });

  /** a source for chunk `index`; `busy` when peers have it but each already has `perPeer` of our requests */
  const pickSource = (index: number, tried: Set<string>): ChunkSource | 'busy' | null => {
    if (c.grant() && !tried.has('origin')) return 'origin';
    const holders = [...peers.entries()].filter(([p, v]) => v.unchoked && v.have[index] && !tried.has(`peer:${p}`));
    if (holders.length === 0) return null;
    const busy = (p: string) => load.get(p) ?? 0;
    const candidates = holders.filter(([p]) => busy(p) < perPeer);
    if (candidates.length === 0) return 'busy';
    // the least busy with our urgent requests, ties at random: urgent chunks spread over the peers' uploads
    const least = Math.min(...candidates.map(([p]) => busy(p)));
    const pool = candidates.filter(([p]) => busy(p) === least);
    return `peer:${pool[Math.floor(Math.random() * pool.length)]![0]}`;
  };

  const attempt = async (source: ChunkSource, index: number) => {
    const peer = source === 'origin' ? null : source.slice('peer:'.length);
    if (peer) load.set(peer, (load.get(peer) ?? 0) + 1);
    await takeSlot();
    try {
      await c.fetch(source, index);
      return true;
    } catch (err) {
      const f = err instanceof FetchFailure ? err : null;
      if (f?.reason === 'corrupt' && peer) c.swarm.ban(peer, f.message);
      log.debug('urgent fetch failed', { index, source, err: (err as Error).message });
      return false;
    } finally {
      giveSlot();
      if (peer) {
        const n = (load.get(peer) ?? 1) - 1;
        if (n > 0) load.set(peer, n);
        else load.delete(peer);
        // a macrotask later: a request that failed at once must not start the next one in the same turn
        if (slotWaiters.size > 0) setTimeout(() => wakeAll(slotWaiters), 0);
      }
    }
  };

  const fetchUrgently = (index: number): Promise<void> => {
    const existing = running.get(index);
    if (existing) return existing;
    const p = (async () => {
      // counted as urgent (background peer requests wait) while it has a peer to ask, or briefly while it has none
      let counted = false;
      const countAs = (on: boolean) => {
        if (on === counted) return;
        counted = on;
        if (on) begin();
        else end();
      };
      countAs(true);
      try {
        const tried = new Set<string>();
        let sourceless: number | null = null;
        while (!stopped && !c.has(index)) {
          const source = pickSource(index, tried);
          if (source === 'busy') {
            sourceless = null;
            countAs(true);
            await wait(slotWaiters, 100);
            continue;
          }
          if (source === null) {
            sourceless ??= performance.now();
            // nobody waits for it any more (a seek away, a read-ahead): the machine will bring it in its turn
            if ((waiters.get(index)?.size ?? 0) === 0 && tried.size === 0) break;
            countAs(performance.now() - sourceless < holdMs);
            tried.clear();
            // the next swarm event may bring a source (at once, not on a poll); the origin's grant has no event
            await wait(sourceWaiters, 100);
            continue;
          }
          sourceless = null;
          countAs(source !== 'origin');
          if (!(await attempt(source, index))) tried.add(source);
        }
      } finally {
        countAs(false);
        running.delete(index);
      }
    })();
    running.set(index, p);
    return p;
  };

  const bytesPerSec = manifest.stream ? manifest.size / Math.max(1, streamDuration(manifest.stream)) : 0;
  const readAheadBytes = init.player ? Math.round(bytesPerSec * (init.readAheadSec ?? 8)) : 0;

  return {
    ensure(index, signal) {
      if (c.has(index)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const set = waiters.get(index) ?? new Set<() => void>();
        waiters.set(index, set);
        const done = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          set.delete(done);
          reject(signal?.reason ?? new Error('aborted'));
        };
        set.add(done);
        signal?.addEventListener('abort', onAbort, { once: true });
        void fetchUrgently(index);
      });
    },
    arrived(index) {
      const set = waiters.get(index);
      waiters.delete(index);
      for (const w of set ?? []) w();
    },
    readAhead(endByte) {
      if (readAheadBytes <= 0 || endByte >= manifest.size || stopped) return;
      const { first, last } = chunksOfRange(manifest.chunkSize, endByte, Math.min(readAheadBytes, manifest.size - endByte));
      for (let i = first; i <= last; i++) if (!c.has(i)) void fetchUrgently(i);
    },
    playerArrived,
    async backgroundTurn(signal) {
      while (active > 0 && !stopped && !signal?.aborted) {
        await new Promise<void>((resolve) => {
          gate.push(resolve);
          signal?.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    },
    pending: (index) => running.get(index),
    get peers() {
      return peers.size;
    },
    stop() {
      stopped = true;
      if (playerTimer) clearTimeout(playerTimer);
      unsubscribe();
      for (const w of gate.splice(0)) w();
      wakeAll(sourceWaiters);
      wakeAll(slotWaiters);
    },
  };
}
