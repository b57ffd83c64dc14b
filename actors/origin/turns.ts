/**
 * Turns at the origin (swarm-aware; issue 11, replacing the 500 ms slot rotation). While a video has more sessions
 * than slots, each holder is told its share of the video in its lease (`turnBytes`); the k-th turn of a round of n
 * sessions covers 6k²/(n(n+1)(2n+1)) of the egress target (one copy of the video by default): together the file
 * once, early turns short so distinct chunks reach many peers' uploads within the first seconds, later ones long,
 * once the swarm is busy anyway; the last (k = n) is the rest, until the gateway says nothing is left unsent. A holder
 * whose share is in yields (`release {park}`): its session stays on the wait list, parked, behind everyone, and is
 * offered a slot again only when it says it needs one (heartbeat `need`) and nobody who had no turn yet waits. A
 * client so switches about twice per crowd instead of at every rotation.
 */
import { PeerEvents, type LeaseInfo, type PeerEvent } from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import { KvConflictError, type MirrorEntry } from '../../lib/kv/mod.js';
import type { Logger } from '../../lib/logger.js';
import { slotKey, type AdmissionStore, type Lease, type Waiter } from './records.js';

export interface TurnsInit {
  capacity: number;
  leaseTtlMs: number;
  /** turns only apply under swarm-aware */
  swarmAware: boolean;
  /** origin egress per video as a multiple of its size (default 1) */
  egressTarget?: number;
}

export interface TurnsComponents {
  store: AdmissionStore;
  clock: Clock;
  logger: Logger;
  push(peerId: string, event: PeerEvent, payload: unknown): void;
  grantFor(slot: number, l: Lease): string;
  /** the session's lease, mirror first, then a direct read */
  findLease(sessionId: string): Promise<(MirrorEntry<Lease> & { slot: number }) | null>;
  /** another sweep soon: a freed slot goes to the next waiter */
  kick(): void;
}

export interface Turns {
  /** waiters a free slot may go to: not parked, or parked and needing one */
  eligible(w: Waiter): boolean;
  /** the lease info a holder is told, its turn included */
  leaseInfo(slot: number, l: Lease): LeaseInfo;
  /** a waiter was handed `l`: its offer carries the turn */
  offered(l: Lease, now: number): void;
  /** tells holders admitted before anyone waited (or whose share shrank) their turn, by a fresh offer */
  tell(now: number): void;
  /** puts a holder's session on the wait list, parked (unless it is there already) */
  writeParked(l: Lease, now: number): Promise<void>;
  /** ends a holder's turn: parked first, then the lease goes; false when it holds no slot */
  park(sessionId: string, peerId: string): Promise<boolean>;
}

/**
 * The share of the egress target the k-th of n turns of a round carries: k² of the sum of squares to n,
 * 6k²/(n(n+1)(2n+1)); the last (k ≥ n) the rest (1: until the gateway says nothing is left unsent). Squares rather
 * than k itself (2k/(n(n+1)) until 2026-12-02): the first turns are a chunk each, so the first chunks reach more
 * uploaders sooner; the chunk-level schedule (bench/lib/ideal.ts plays the same turns) prices it at 0.009 / 0.003 of
 * D_p2p at N = 10 / 20; the bench, interleaved, ~0.003 at N = 10 and nothing resolvable at N = 20 (bench/README
 * "Sixteenth session").
 */
export function turnShare(k: number, n: number): number {
  return k >= n ? 1 : (6 * k * k) / (n * (n + 1) * (2 * n + 1));
}

export function createTurns(init: TurnsInit, c: TurnsComponents): Turns {
  const { store } = c;
  /** the turn each holder was last told by this worker (0: none); heartbeats carry later changes */
  const told = new Map<string, number>();
  const eligible = (w: Waiter) => !w.parked || w.need === true;

  /** Per video: its live waiters (id → parked) and the ids of its live holders. */
  type Crowd = { waiting: Map<string, boolean>; holders: Set<string> };
  /** One pass over the wait list and the slots: what every holder's share is cut from. */
  const crowds = (now: number): Map<string, Crowd> => {
    const out = new Map<string, Crowd>();
    const of = (videoId: string) => {
      const v = out.get(videoId) ?? { waiting: new Map<string, boolean>(), holders: new Set<string>() };
      out.set(videoId, v);
      return v;
    };
    for (const w of store.waiters()) if (w.value.expiresAt > now) of(w.value.videoId).waiting.set(w.value.sessionId, w.value.parked === true);
    for (let i = 0; i < init.capacity; i++) {
      const e = store.lease(i);
      if (e && e.value.expiresAt > now) of(e.value.videoId).holders.add(e.value.sessionId);
    }
    return out;
  };

  /** The holder's share while the video has waiters (parked ones count); 0 while nobody waits: no turn. */
  const turnBytesOf = (l: Lease, crowd: Crowd | undefined): number => {
    if (!init.swarmAware || l.videoBytes === undefined || !crowd) return 0;
    // the holder itself may still show as a waiter (it just parked, or was just handed the slot)
    const selfWaiting = crowd.waiting.get(l.sessionId);
    const others = crowd.waiting.size - (selfWaiting === undefined ? 0 : 1);
    if (others === 0) return 0;
    // sessions by id: a holder that just parked may still show in the mirror as both
    let n = crowd.waiting.size + (selfWaiting === undefined ? 1 : 0);
    for (const h of crowd.holders) if (h !== l.sessionId && !crowd.waiting.has(h)) n++;
    let parked = 0;
    let fresh = 0;
    for (const [sessionId, p] of crowd.waiting) {
      if (p) parked++;
      else if (sessionId !== l.sessionId) fresh++;
    }
    const k = Math.min(n, 1 + parked - (selfWaiting === true ? 1 : 0));
    // the last turn of a round is the rest: whatever the earlier turns left unsent (a share cut while the crowd
    // was still queueing, a holder that yielded on declines) goes out now, not once the crowd has run out of
    // everything else and a parked client's lasting need (2 s) brings it back (the demo: 8 clients at 92–97 %
    // waited 2 s for it). The gateway's decline says when nothing is left unsent (`none`), which ends the turn.
    // With several slots the last turns run side by side and k never reaches n (the other holders are not
    // parked yet): a holder after whom nobody waits for a first turn is a last one (the demo, 2 slots: 5 of 12
    // runs left 1–4 chunks unsent until that 2 s need)
    const share = fresh === 0 ? 1 : turnShare(k, n);
    return Math.ceil(l.videoBytes * (init.egressTarget ?? 1) * share);
  };
  const turnNow = (l: Lease, now: number) => turnBytesOf(l, crowds(now).get(l.videoId));

  const leaseInfo = (slot: number, l: Lease): LeaseInfo => {
    const turnBytes = turnNow(l, c.clock.now());
    return { slot, expiresAt: l.expiresAt, ttlMs: init.leaseTtlMs, ...(turnBytes > 0 ? { turnBytes } : {}) };
  };

  const writeParked = async (l: Lease, now: number): Promise<void> => {
    if (store.waiter(l.sessionId)) return;
    const waiter: Waiter = { sessionId: l.sessionId, peerId: l.peerId, videoId: l.videoId, ticket: await store.nextTicket(),
      since: now, expiresAt: now + init.leaseTtlMs, parked: true, need: false,
      ...(l.videoBytes !== undefined ? { videoBytes: l.videoBytes } : {}) };
    await store.writeWaiter(waiter, null).catch((err: unknown) => {
      if (!(err instanceof KvConflictError)) throw err; // queued meanwhile: it keeps that entry
    });
  };

  return {
    eligible,
    leaseInfo,
    offered: (l, now) => told.set(l.sessionId, turnNow(l, now)),
    tell(now) {
      if (!init.swarmAware) return;
      const all = crowds(now); // once per sweep, not once per holder
      const holding = new Set<string>();
      for (let i = 0; i < init.capacity; i++) {
        const e = store.lease(i);
        if (!e || e.value.expiresAt <= now) continue;
        const l = e.value;
        holding.add(l.sessionId);
        const turn = turnBytesOf(l, all.get(l.videoId));
        const before = told.get(l.sessionId) ?? 0;
        // a turn starts, or shrank by a quarter (a crowd queues over a few sweeps): a handful of pushes per turn
        if (turn === 0 || (before > 0 && turn > 0.75 * before)) continue;
        told.set(l.sessionId, turn);
        c.push(l.peerId, PeerEvents.slotOffered, {
          sessionId: l.sessionId, videoId: l.videoId, grant: c.grantFor(i, l),
          lease: { slot: i, expiresAt: l.expiresAt, ttlMs: init.leaseTtlMs, turnBytes: turn },
        });
      }
      for (const s of [...told.keys()]) if (!holding.has(s)) told.delete(s);
    },
    writeParked,
    async park(sessionId, peerId) {
      // parked first, then the lease goes: a heartbeat in between finds one or the other, never neither
      for (let attempt = 0; attempt < 3; attempt++) {
        const l = await c.findLease(sessionId);
        if (!l || l.value.peerId !== peerId) return false;
        await writeParked(l.value, c.clock.now());
        try {
          await store.remove(slotKey(l.slot), l.revision);
          told.delete(sessionId);
          c.logger.debug('turn over: holder parked', { slot: l.slot, sessionId });
          c.kick();
          return true;
        } catch (err) {
          if (!(err instanceof KvConflictError)) throw err;
          await store.readLease(l.slot); // renewed meanwhile: read it again and retry
        }
      }
      return false;
    },
  };
}
