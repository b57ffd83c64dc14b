/**
 * Turns at the origin (swarm-aware; issue 11, replacing the 500 ms slot rotation). While a video has more sessions
 * than slots, each holder is told its share of the video in its lease (`turnBytes`); the k-th turn of a round of n
 * sessions covers 2k/(n(n+1)) of the egress target (one copy of the video by default): together the file once,
 * early turns short so distinct chunks reach many peers' uploads within the first seconds, later ones long, once
 * the swarm is busy anyway. A holder whose share is in yields (`release {park}`): its session stays on the wait
 * list, parked, behind everyone, and is offered a slot again only when it says it needs one (heartbeat `need`)
 * and nobody who had no turn yet waits. A client so switches about twice per crowd instead of at every rotation.
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

export function createTurns(init: TurnsInit, c: TurnsComponents): Turns {
  const { store } = c;
  /** the turn each holder was last told by this worker (0: none); heartbeats carry later changes */
  const told = new Map<string, number>();
  const eligible = (w: Waiter) => !w.parked || w.need === true;

  /** The holder's share while the video has waiters (parked ones count); 0 while nobody waits: no turn. */
  const turnBytesOf = (l: Lease, now: number): number => {
    if (!init.swarmAware || l.videoBytes === undefined) return 0;
    const waiters = store.waiters().filter((w) => w.value.expiresAt > now && w.value.videoId === l.videoId &&
      w.value.sessionId !== l.sessionId);
    if (waiters.length === 0) return 0;
    // sessions by id: a holder that just parked may still show in the mirror as both
    const sessions = new Set<string>([l.sessionId, ...waiters.map((w) => w.value.sessionId)]);
    for (let i = 0; i < init.capacity; i++) {
      const e = store.lease(i);
      if (e && e.value.expiresAt > now && e.value.videoId === l.videoId) sessions.add(e.value.sessionId);
    }
    const n = sessions.size;
    const k = Math.min(n, 1 + waiters.filter((w) => w.value.parked === true).length);
    return Math.ceil((l.videoBytes * (init.egressTarget ?? 1) * 2 * k) / (n * (n + 1)));
  };

  const leaseInfo = (slot: number, l: Lease): LeaseInfo => {
    const turnBytes = turnBytesOf(l, c.clock.now());
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
    offered: (l, now) => told.set(l.sessionId, turnBytesOf(l, now)),
    tell(now) {
      if (!init.swarmAware) return;
      const holding = new Set<string>();
      for (let i = 0; i < init.capacity; i++) {
        const e = store.lease(i);
        if (!e || e.value.expiresAt <= now) continue;
        const l = e.value;
        holding.add(l.sessionId);
        const turn = turnBytesOf(l, now);
        const before = told.get(l.sessionId) ?? 0;
        // a turn starts, or shrank by a quarter (a crowd queues over a few sweeps): a handful of pushes per turn
        if (turn === 0 || (before > 0 && turn > 0.75 * before)) continue;
        told.set(l.sessionId, turn);
        c.push(l.peerId, PeerEvents.slotOffered, {
          sessionId: l.sessionId, videoId: l.videoId, grant: c.grantFor(i, l), lease: leaseInfo(i, l),
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
