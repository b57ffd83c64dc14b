/**
 * Admission: at most `capacity` sessions hold an origin slot at once, across every origin worker. State lives in
 * the JetStream KV bucket `sy_admission`:
 *   slot.<i>          the lease on slot i (i < capacity): who holds it and until when
 *   wait.<sessionId>  a waiting client, ordered by `ticket` (a CAS counter under key `ticket`)
 * Only `capacity` slot keys exist, and each is written with compare-and-set, so two workers can never hand the
 * same slot out twice: the global limit holds by construction, not by coordination between workers.
 *
 * Leases carry their expiry; holders renew by heartbeat. Every worker sweeps: expired leases and waiters are
 * removed (CAS delete), then free slots go to the longest-waiting clients (swarm-aware: in turns, turns.ts). A hand-over claims the slot first and
 * then CAS-deletes the waiter's entry; the worker whose delete fails gives its slot back, so a waiter never ends
 * up with two slots even when several workers sweep at once.
 */
import type { KV } from '@nats-io/kv';
import {
  PeerEvents, UnknownSessionError, type HeartbeatReply, type Manifest, type OpenReply,
  type OriginPolicy, type PeerEvent, type ReleaseReply,
} from '../../protocol/mod.js';
import { signGrant } from '../../lib/hash.js';
import type { Clock } from '../../lib/clock.js';
import { KvConflictError, sweepExpired, type MirrorEntry, type MirrorHealth } from '../../lib/kv/mod.js';
import type { Logger } from '../../lib/logger.js';
import {
  createAdmissionStore, isLease, isWaiter, leaseOf, newSessionId, slotKey, slotOf, waiterOf,
  type AdmissionSnapshot, type Lease, type Waiter,
} from './records.js';
import { createTurns } from './turns.js';

export type { AdmissionSnapshot, Lease, Waiter } from './records.js';

export interface AdmissionInit {
  /** global number of origin slots (same on every worker) */
  capacity: number;
  /** a lease or wait entry not renewed for this long is dropped */
  leaseTtlMs: number;
  /** lifetime of a grant token; renewed with every heartbeat */
  grantTtlMs: number;
  sweepIntervalMs: number;
  grantSecret: string;
  /** origin policy, told to clients in open replies and published in the `config` key */
  policy?: OriginPolicy;
  /** swarm-aware: origin egress per video as a multiple of its size (≥ 1), the cost/time knob (turns.ts, config) */
  egressTarget?: number;
  /**
   * a slot held this long with no chunk traffic (as the gateways report it) is reclaimed, under every policy;
   * 0 disables (default 0 here; the origin service enables it)
   */
  idleMs?: number;
}

export interface AdmissionComponents {
  kv: KV;
  clock: Clock;
  logger: Logger;
  push(peerId: string, event: PeerEvent, payload: unknown): void;
  /** when a gateway last served chunk bytes to this session (actors/origin/activity.ts) */
  lastServed?(sessionId: string): number | undefined;
}

export interface Admission {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `manifest`: the video's (or, for a live stream, its window's) root hash, told back to the client */
  open(req: { videoId: string; peerId: string }, manifest: Pick<Manifest, 'rootHash'> & { size?: number }): Promise<OpenReply>;
  /** `need`: a parked session lacks chunks its peers do not hold */
  heartbeat(req: { sessionId: string; peerId: string; need?: boolean }): Promise<HeartbeatReply>;
  /** `park`: a holder's turn is over; the slot frees and the session stays, parked on the wait list */
  release(req: { sessionId: string; peerId: string; park?: boolean }): Promise<ReleaseReply>;
  /** a live session (slot holder first checked in the wait list), for urgent grants; null when unknown */
  session(sessionId: string): Promise<{ peerId: string; videoId: string; waiting: boolean } | null>;
  /** one sweep pass (also runs on a timer) */
  sweep(): Promise<void>;
  /** starts over after the bucket was lost and recreated */
  recover(): Promise<void>;
  snapshot(): AdmissionSnapshot;
  /** the admission mirror's health (watch restarts, staleness, skipped entries) */
  health(): MirrorHealth;
}

export function createAdmission(init: AdmissionInit, components: AdmissionComponents): Admission {
  const { kv, clock, logger } = components;
  const store = createAdmissionStore(kv, logger);
  let timer: NodeJS.Timeout | null = null;
  let sweeping: Promise<void> | null = null;
  let sweepAgain = false;

  const grantFor = (slot: number, l: Lease) =>
    signGrant({ v: l.videoId, p: l.peerId, s: l.sessionId, n: slot, exp: clock.now() + init.grantTtlMs }, init.grantSecret);
  const swarmAware = init.policy === 'swarm-aware';
  // closures: findLease and kick are defined below
  const turns = createTurns({ capacity: init.capacity, leaseTtlMs: init.leaseTtlMs, swarmAware,
    ...(init.egressTarget !== undefined ? { egressTarget: init.egressTarget } : {}) },
  { store, clock, logger, push: components.push, grantFor, findLease: (s) => findLease(s), kick: () => kick() });
  const { eligible, leaseInfo } = turns;
  const revoke = (l: Lease, reason: string) =>
    components.push(l.peerId, PeerEvents.slotRevoked, { sessionId: l.sessionId, reason });
  /** A lost compare-and-set is expected (another worker or request won); anything else is not ours to handle. */
  const conflictOnly = (err: unknown) => {
    if (!(err instanceof KvConflictError)) throw err;
  };

  /** Waiters a slot may go to, in the order it goes: those who had no turn yet by ticket, then needy parked ones. */
  const liveWaiters = (now: number): Array<MirrorEntry<Waiter>> =>
    store.waiters().filter((w) => w.value.expiresAt > now && eligible(w.value))
      .sort((a, b) => Number(a.value.parked === true) - Number(b.value.parked === true) || a.value.ticket - b.value.ticket);
  const positionOf = (sessionId: string, now: number) => {
    const order = liveWaiters(now);
    const at = order.findIndex((w) => w.value.sessionId === sessionId);
    return (at < 0 ? order.length : at) + 1;
  };

  /** Tries to put `lease` on a free or expired slot; returns the slot index or null when all are live. */
  const acquire = async (lease: Lease, now: number): Promise<number | null> => {
    const start = Math.floor(Math.random() * init.capacity);
    for (let k = 0; k < init.capacity; k++) {
      const i = (start + k) % init.capacity;
      const e = store.lease(i);
      if (e && e.value.expiresAt > now) continue;
      try {
        await store.writeLease(i, lease, e ? e.revision : null);
        if (e) revoke(e.value, 'lease expired');
        return i;
      } catch (err) {
        conflictOnly(err); // another worker took the slot: look at the next one
        await store.readLease(i);
      }
    }
    return null;
  };

  /** Finds the slot a session holds: mirror first, then a direct read of every slot key. */
  const findLease = async (sessionId: string): Promise<(MirrorEntry<Lease> & { slot: number }) | null> => {
    for (let i = 0; i < init.capacity; i++) {
      const e = store.lease(i);
      if (e?.value.sessionId === sessionId) return { ...e, slot: i };
    }
    for (let i = 0; i < init.capacity; i++) {
      const e = await store.readLease(i);
      if (e?.value.sessionId === sessionId) return { ...e, slot: i };
    }
    return null;
  };
  const findWaiter = async (sessionId: string): Promise<MirrorEntry<Waiter> | null> =>
    store.waiter(sessionId) ?? (await store.readWaiter(sessionId)) ?? null;

  /** what gateways and dashboards need to know about this deployment (every worker writes the same) */
  const publishConfig = () => store.publishConfig({
    capacity: init.capacity, policy: init.policy ?? 'server-first', leaseTtlMs: init.leaseTtlMs,
    ...(init.egressTarget !== undefined ? { egressTarget: init.egressTarget } : {}),
  });

  const kick = () => {
    void sweep().catch((err) => logger.warn('sweep failed', { err }));
  };

  async function sweepOnce(): Promise<void> {
    const now = clock.now();
    if ((init.idleMs ?? 0) > 0) await reclaimIdle(now);
    // expired leases, then expired waiters: each a CAS delete at the revision the mirror saw
    const expired = await sweepExpired(store.store, {
      keys: isLease, expired: (r) => (leaseOf(r)?.expiresAt ?? Infinity) <= now, logger,
    });
    for (const e of expired) {
      const l = leaseOf(e.value);
      if (!l) continue;
      logger.info('lease expired', { slot: slotOf(e.key), sessionId: l.sessionId });
      revoke(l, 'lease expired');
    }
    await sweepExpired(store.store, {
      keys: isWaiter, expired: (r) => (waiterOf(r)?.expiresAt ?? Infinity) <= now, logger,
    });
    const free: number[] = [];
    for (let i = 0; i < init.capacity; i++) if (!store.lease(i)) free.push(i);
    const waiters = liveWaiters(now);
    while (free.length > 0 && waiters.length > 0) {
      const w = waiters[0]!;
      const slot = free[0]!;
      const lease: Lease = { sessionId: w.value.sessionId, peerId: w.value.peerId, videoId: w.value.videoId,
        grantedAt: now, expiresAt: now + init.leaseTtlMs,
        ...(w.value.videoBytes !== undefined ? { videoBytes: w.value.videoBytes } : {}) };
      let rev: number;
      try {
        rev = await store.writeLease(slot, lease, store.lease(slot)?.revision ?? null);
      } catch (err) {
        conflictOnly(err);
        free.shift(); // someone else filled it
        await store.readLease(slot);
        continue;
      }
      free.shift();
      waiters.shift();
      turns.offered(lease, now); // the offer carries the turn
      if (await claimWaiter(w)) {
        logger.info('slot handed to waiter', { slot, sessionId: lease.sessionId, ticket: w.value.ticket });
        components.push(lease.peerId, PeerEvents.slotOffered, {
          sessionId: lease.sessionId, videoId: lease.videoId, grant: grantFor(slot, lease),
          lease: leaseInfo(slot, lease),
        });
      } else {
        // another worker served this waiter meanwhile: give the slot back
        await store.remove(slotKey(slot), rev).catch(async (err: unknown) => {
          conflictOnly(err);
          await store.readLease(slot);
        });
        free.unshift(slot);
      }
    }
    turns.tell(now);
  }

  /** Deletes slot i's lease at `e`'s revision; false (and a fresh read) when another writer changed it first. */
  const takeBack = async (i: number, e: MirrorEntry<Lease>): Promise<boolean> => {
    try {
      await store.remove(slotKey(i), e.revision);
      return true;
    } catch (err) {
      conflictOnly(err);
      await store.readLease(i);
      return false;
    }
  };

  /** Takes back slots whose holders fetched nothing from any gateway for `idleMs`. */
  async function reclaimIdle(now: number): Promise<void> {
    const idleMs = init.idleMs ?? 0;
    for (let i = 0; i < init.capacity; i++) {
      const e = store.lease(i);
      if (!e || e.value.expiresAt <= now) continue;
      const l = e.value;
      const active = Math.max(l.grantedAt, components.lastServed?.(l.sessionId) ?? 0);
      if (now - active < idleMs) continue;
      // swarm-aware: a holder the origin has nothing left to send (everything declined: its peers have it) is
      // parked, not dropped, so it carries on with peers instead of opening again at the back of the line
      if (swarmAware) await turns.writeParked(l, now);
      if (!(await takeBack(i, e))) continue;
      logger.info('idle slot reclaimed', { slot: i, sessionId: l.sessionId, idleMs: now - active });
      revoke(l, 'idle: no chunk traffic');
    }
  }

  /** CAS-deletes the waiter's entry; a heartbeat may have bumped its revision, so re-read and retry a little. */
  async function claimWaiter(w: MirrorEntry<Waiter>): Promise<boolean> {
    const from = { key: w.key, revision: w.revision, value: { kind: 'waiter', waiter: w.value } as const };
    const claimed = await store.store.removeIf(w.key, (cur) => waiterOf(cur)?.sessionId === w.value.sessionId,
      { from, policy: { attempts: 3 } });
    return claimed !== null;
  }

  async function sweep(): Promise<void> {
    if (sweeping) {
      sweepAgain = true;
      return sweeping;
    }
    sweeping = (async () => {
      try {
        do {
          sweepAgain = false;
          await sweepOnce();
        } while (sweepAgain);
      } finally {
        sweeping = null;
      }
    })();
    return sweeping;
  }
  /** waits for a sweep in progress; its failure was logged by whoever started it */
  const sweepDone = () => sweeping?.catch((err: unknown) => logger.debug('sweep ended with an error', { err }));

  return {
    async start() {
      await store.start();
      await publishConfig();
      timer = setInterval(kick, init.sweepIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await sweepDone();
      await store.stop();
    },

    async open({ videoId, peerId }, manifest) {
      const now = clock.now();
      const sessionId = newSessionId();
      const videoBytes = manifest.size !== undefined ? { videoBytes: manifest.size } : {};
      if (liveWaiters(now).length === 0) {
        const lease: Lease = { sessionId, peerId, videoId, grantedAt: now, expiresAt: now + init.leaseTtlMs, ...videoBytes };
        const slot = await acquire(lease, now);
        if (slot !== null) {
          return { status: 'granted', sessionId, videoId, rootHash: manifest.rootHash, grant: grantFor(slot, lease), lease: leaseInfo(slot, lease),
            policy: init.policy ?? 'server-first' };
        }
      }
      const ticket = await store.nextTicket();
      const waiter: Waiter = { sessionId, peerId, videoId, ticket, since: now, expiresAt: now + init.leaseTtlMs, ...videoBytes };
      await store.writeWaiter(waiter, null);
      kick(); // a slot may have freed while we queued: the sweep hands it out in ticket order
      return { status: 'denied', sessionId, videoId, rootHash: manifest.rootHash, reason: 'full', position: positionOf(sessionId, now),
        ttlMs: init.leaseTtlMs, policy: init.policy ?? 'server-first' };
    },

    async heartbeat({ sessionId, peerId, need }) {
      let missed = 0;
      for (let attempt = 0; attempt < 3; attempt++) {
        const now = clock.now();
        const l = await findLease(sessionId);
        if (l) {
          if (l.value.peerId !== peerId) throw new UnknownSessionError(sessionId);
          const renewed: Lease = { ...l.value, expiresAt: now + init.leaseTtlMs };
          try {
            await store.writeLease(l.slot, renewed, l.revision);
            return { status: 'granted', grant: grantFor(l.slot, renewed), lease: leaseInfo(l.slot, renewed) };
          } catch (err) {
            conflictOnly(err); // swept or taken back meanwhile: look again
            await store.readLease(l.slot);
            continue;
          }
        }
        const w = await findWaiter(sessionId);
        if (w) {
          if (w.value.peerId !== peerId) throw new UnknownSessionError(sessionId);
          const parked = w.value.parked === true;
          // only a parked session's need matters: an unparked one is in line anyway
          const needs = parked && need === true;
          try {
            await store.writeWaiter({ ...w.value, expiresAt: now + init.leaseTtlMs, ...(parked ? { need: needs } : {}) }, w.revision);
            if (needs && w.value.need !== true) kick(); // it may have a slot at once
            return { status: 'waiting', position: positionOf(sessionId, now), ...(parked ? { parked: !needs } : {}) };
          } catch (err) {
            conflictOnly(err); // claimed by a sweep meanwhile: look for the slot again
            await store.readWaiter(sessionId);
            continue;
          }
        }
        // in neither: a sweep may have moved it to a slot between the two looks (lease, then waiter): look again
        if (missed++) break;
      }
      throw new UnknownSessionError(sessionId);
    },

    async release({ sessionId, peerId, park }) {
      if (park === true) return { released: await turns.park(sessionId, peerId) };
      let released = false;
      const drop = async (e: { key: string; revision: number }) => {
        try {
          await store.remove(e.key, e.revision);
          released = true;
        } catch (err) {
          conflictOnly(err); // changed meanwhile (renewed, swept, handed on): the mirror learns it now
          await store.store.read(e.key);
        }
      };
      // the wait list first: a sweep writes the lease before it claims the waiter, so a waiter found gone here
      // has its lease written already, and the lease lookup below finds it (the other order could miss both)
      const w = await findWaiter(sessionId);
      if (w && w.value.peerId === peerId) await drop(w);
      const l = await findLease(sessionId);
      if (l && l.value.peerId === peerId) await drop(l);
      if (released) kick();
      return { released };
    },

    async session(sessionId) {
      const now = clock.now();
      // the wait list first: urgent grants are mostly asked while waiting, and it is one key, not every slot
      const w = await findWaiter(sessionId);
      if (w && w.value.expiresAt > now) return { peerId: w.value.peerId, videoId: w.value.videoId, waiting: true };
      const l = await findLease(sessionId);
      if (l && l.value.expiresAt > now) return { peerId: l.value.peerId, videoId: l.value.videoId, waiting: false };
      return null;
    },

    sweep,

    async recover() {
      // the bucket was recreated empty: every lease and wait entry is gone, and their holders learn it from
      // their next heartbeat (unknown_session) and open again
      await sweepDone();
      await store.restart();
      await publishConfig();
      logger.warn('admission state lost with its bucket: clients will re-open');
    },

    snapshot() {
      const now = clock.now();
      const slots: AdmissionSnapshot['slots'] = [];
      for (let i = 0; i < init.capacity; i++) {
        const e = store.lease(i);
        slots.push(e && e.value.expiresAt > now ? { ...e.value, slot: i } : null);
      }
      // eligible waiters in the order slots go to them, then the parked ones (their turn was had)
      const parked = store.waiters().filter((w) => w.value.expiresAt > now && !eligible(w.value))
        .sort((a, b) => a.value.ticket - b.value.ticket);
      return { capacity: init.capacity, slots, waiting: [...liveWaiters(now), ...parked].map((w) => w.value) };
    },

    health: () => store.store.mirror.health(),
  };
}
