/**
 * Admission: at most `capacity` sessions hold an origin slot at once, across every origin worker. State lives in
 * the JetStream KV bucket `sy_admission`:
 *   slot.<i>          the lease on slot i (i < capacity): who holds it and until when
 *   wait.<sessionId>  a waiting client, ordered by `ticket` (a CAS counter under key `ticket`)
 * Only `capacity` slot keys exist, and each is written with compare-and-set, so two workers can never hand the
 * same slot out twice: the global limit holds by construction, not by coordination between workers.
 *
 * Leases carry their expiry; holders renew by heartbeat. Every worker sweeps: expired leases and waiters are
 * removed (CAS delete), then free slots go to the longest-waiting clients. A hand-over claims the slot first and
 * then CAS-deletes the waiter's entry; the worker whose delete fails gives its slot back, so a waiter never ends
 * up with two slots even when several workers sweep at once.
 */
import type { KV } from '@nats-io/kv';
import {
  encode, PeerEvents, UnknownSessionError, type HeartbeatReply, type LeaseInfo, type Manifest, type OpenReply,
  type OriginPolicy, type PeerEvent, type ReleaseReply,
} from '../../protocol/mod.js';
import { signGrant } from '../../lib/hash.js';
import type { Clock } from '../../lib/clock.js';
import type { MirrorEntry } from '../../lib/kvmirror.js';
import type { Logger } from '../../lib/logger.js';
import {
  CONFIG, createAdmissionStore, isWaiter, newSessionId, slotKey, TICKET, waitKey, type AdmissionSnapshot, type Lease,
  type Waiter,
} from './records.js';

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
  /**
   * swarm-aware only: a slot held this long goes to the next waiter when someone waits, and the holder queues
   * again. Many short turns spread the chunks the origin sends over many peers, whose uploads then carry them:
   * with one slot, one long holder would be the swarm's only way in. 0 disables.
   */
  rotateMs?: number;
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
  open(req: { videoId: string; peerId: string }, manifest: Pick<Manifest, 'rootHash'>): Promise<OpenReply>;
  heartbeat(req: { sessionId: string; peerId: string }): Promise<HeartbeatReply>;
  release(req: { sessionId: string; peerId: string }): Promise<ReleaseReply>;
  /** a live session (slot holder first checked in the wait list), for urgent grants; null when unknown */
  session(sessionId: string): Promise<{ peerId: string; videoId: string; waiting: boolean } | null>;
  /** one sweep pass (also runs on a timer) */
  sweep(): Promise<void>;
  /** starts over after the bucket was lost and recreated */
  recover(): Promise<void>;
  snapshot(): AdmissionSnapshot;
}

export function createAdmission(init: AdmissionInit, components: AdmissionComponents): Admission {
  const { kv, clock, logger } = components;
  const store = createAdmissionStore(kv, logger);
  const { m, write, remove, refresh } = store;
  let timer: NodeJS.Timeout | null = null;
  let sweeping: Promise<void> | null = null;
  let sweepAgain = false;

  const leaseInfo = (slot: number, l: Lease): LeaseInfo => ({ slot, expiresAt: l.expiresAt, ttlMs: init.leaseTtlMs });
  const grantFor = (slot: number, l: Lease) =>
    signGrant({ v: l.videoId, p: l.peerId, s: l.sessionId, n: slot, exp: clock.now() + init.grantTtlMs }, init.grantSecret);

  const liveWaiters = (now: number): Array<MirrorEntry<Waiter>> => {
    const out: Array<MirrorEntry<Waiter>> = [];
    for (const e of m().entries.values()) {
      if (isWaiter(e.key) && (e.value as Waiter).expiresAt > now) out.push(e as MirrorEntry<Waiter>);
    }
    return out.sort((a, b) => a.value.ticket - b.value.ticket);
  };
  const positionOf = (sessionId: string, ticket: number, now: number) =>
    liveWaiters(now).filter((w) => w.value.ticket < ticket && w.value.sessionId !== sessionId).length + 1;

  const nextTicket = async (): Promise<number> => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const e = await kv.get(TICKET);
      const cur = e && e.operation === 'PUT' ? Number(e.string()) : 0;
      try {
        await write(TICKET, cur + 1, e && e.operation === 'PUT' ? e.revision : null);
        return cur + 1;
      } catch {
        /* another worker took this ticket: read again */
      }
    }
    throw new Error('could not allocate a wait-list ticket');
  };

  /** Tries to put `lease` on a free or expired slot; returns the slot index or null when all are live. */
  const acquire = async (lease: Lease, now: number): Promise<number | null> => {
    const start = Math.floor(Math.random() * init.capacity);
    for (let k = 0; k < init.capacity; k++) {
      const i = (start + k) % init.capacity;
      const e = m().entries.get(slotKey(i)) as MirrorEntry<Lease> | undefined;
      if (e && e.value.expiresAt > now) continue;
      try {
        await write(slotKey(i), lease, e ? e.revision : null);
        if (e) components.push(e.value.peerId, PeerEvents.slotRevoked, { sessionId: e.value.sessionId, reason: 'lease expired' });
        return i;
      } catch {
        await refresh(slotKey(i));
      }
    }
    return null;
  };

  /** Finds the slot a session holds: mirror first, then a direct read of every slot key. */
  const findLease = async (sessionId: string): Promise<(MirrorEntry<Lease> & { slot: number }) | null> => {
    for (let i = 0; i < init.capacity; i++) {
      const e = m().entries.get(slotKey(i)) as MirrorEntry<Lease> | undefined;
      if (e?.value.sessionId === sessionId) return { ...e, slot: i };
    }
    for (let i = 0; i < init.capacity; i++) {
      const e = (await refresh(slotKey(i))) as MirrorEntry<Lease> | null;
      if (e?.value.sessionId === sessionId) return { ...e, slot: i };
    }
    return null;
  };
  const findWaiter = async (sessionId: string): Promise<MirrorEntry<Waiter> | null> =>
    ((m().entries.get(waitKey(sessionId)) ?? (await refresh(waitKey(sessionId)))) as MirrorEntry<Waiter> | null);

  /** what gateways and dashboards need to know about this deployment (every worker writes the same) */
  const publishConfig = async () => {
    await kv.put(CONFIG, encode({ capacity: init.capacity, policy: init.policy ?? 'server-first', leaseTtlMs: init.leaseTtlMs }));
  };

  const kick = () => {
    void sweep().catch((err) => logger.warn('sweep failed', { err }));
  };

  async function sweepOnce(): Promise<void> {
    const now = clock.now();
    if (init.policy === 'swarm-aware' && (init.rotateMs ?? 0) > 0 && liveWaiters(now).length > 0) await rotate(now);
    if ((init.idleMs ?? 0) > 0) await reclaimIdle(now);
    const free: number[] = [];
    for (let i = 0; i < init.capacity; i++) {
      const e = m().entries.get(slotKey(i)) as MirrorEntry<Lease> | undefined;
      if (!e) {
        free.push(i);
      } else if (e.value.expiresAt <= now) {
        try {
          await remove(slotKey(i), e.revision);
          logger.info('lease expired', { slot: i, sessionId: e.value.sessionId });
          components.push(e.value.peerId, PeerEvents.slotRevoked, { sessionId: e.value.sessionId, reason: 'lease expired' });
          free.push(i);
        } catch {
          await refresh(slotKey(i));
        }
      }
    }
    for (const e of m().entries.values()) {
      if (isWaiter(e.key) && (e.value as Waiter).expiresAt <= now) {
        await remove(e.key, e.revision).catch(() => refresh(e.key));
      }
    }
    const waiters = liveWaiters(now);
    while (free.length > 0 && waiters.length > 0) {
      const w = waiters[0]!;
      const slot = free[0]!;
      const lease: Lease = { sessionId: w.value.sessionId, peerId: w.value.peerId, videoId: w.value.videoId,
        grantedAt: now, expiresAt: now + init.leaseTtlMs };
      let rev: number;
      try {
        rev = await write(slotKey(slot), lease, m().entries.get(slotKey(slot))?.revision ?? null);
      } catch {
        free.shift(); // someone else filled it
        await refresh(slotKey(slot));
        continue;
      }
      free.shift();
      if (await claimWaiter(w)) {
        waiters.shift();
        logger.info('slot handed to waiter', { slot, sessionId: lease.sessionId, ticket: w.value.ticket });
        components.push(lease.peerId, PeerEvents.slotOffered, {
          sessionId: lease.sessionId, videoId: lease.videoId, grant: grantFor(slot, lease), lease: leaseInfo(slot, lease),
        });
      } else {
        waiters.shift();
        await remove(slotKey(slot), rev).catch(() => refresh(slotKey(slot)));
        free.unshift(slot);
      }
    }
  }

  /** Takes back slots whose holders fetched nothing from any gateway for `idleMs`. */
  async function reclaimIdle(now: number): Promise<void> {
    const idleMs = init.idleMs!;
    for (let i = 0; i < init.capacity; i++) {
      const e = m().entries.get(slotKey(i)) as MirrorEntry<Lease> | undefined;
      if (!e || e.value.expiresAt <= now) continue;
      const l = e.value;
      const active = Math.max(l.grantedAt, components.lastServed?.(l.sessionId) ?? 0);
      if (now - active < idleMs) continue;
      try {
        await remove(slotKey(i), e.revision);
      } catch {
        await refresh(slotKey(i));
        continue;
      }
      logger.info('idle slot reclaimed', { slot: i, sessionId: l.sessionId, idleMs: now - active });
      components.push(l.peerId, PeerEvents.slotRevoked, { sessionId: l.sessionId, reason: 'idle: no chunk traffic' });
    }
  }

  /** Sends holders whose turn is over to the back of the wait list; the sweep then hands their slots on. */
  async function rotate(now: number): Promise<void> {
    for (let i = 0; i < init.capacity; i++) {
      const e = m().entries.get(slotKey(i)) as MirrorEntry<Lease> | undefined;
      if (!e || e.value.expiresAt <= now || now - e.value.grantedAt < init.rotateMs!) continue;
      const l = e.value;
      try {
        await remove(slotKey(i), e.revision);
      } catch {
        await refresh(slotKey(i));
        continue;
      }
      const ticket = await nextTicket();
      await write(waitKey(l.sessionId), { sessionId: l.sessionId, peerId: l.peerId, videoId: l.videoId, ticket, since: now,
        expiresAt: now + init.leaseTtlMs }, m().entries.get(waitKey(l.sessionId))?.revision ?? null).catch(() => {});
      logger.debug('slot rotated', { slot: i, sessionId: l.sessionId });
      components.push(l.peerId, PeerEvents.slotRevoked, { sessionId: l.sessionId, reason: 'turn over: queued again' });
    }
  }

  /** CAS-deletes the waiter's entry; a heartbeat may have bumped its revision, so re-read and retry a little. */
  async function claimWaiter(w: MirrorEntry<Waiter>): Promise<boolean> {
    let rev = w.revision;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await remove(w.key, rev);
        return true;
      } catch {
        const cur = await refresh(w.key);
        if (!cur || (cur.value as Waiter).sessionId !== w.value.sessionId) return false;
        rev = cur.revision;
      }
    }
    return false;
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
      await sweeping?.catch(() => {});
      await store.stop();
    },

    async open({ videoId, peerId }, manifest) {
      const now = clock.now();
      const sessionId = newSessionId();
      if (liveWaiters(now).length === 0) {
        const lease: Lease = { sessionId, peerId, videoId, grantedAt: now, expiresAt: now + init.leaseTtlMs };
        const slot = await acquire(lease, now);
        if (slot !== null) {
          return { status: 'granted', sessionId, videoId, rootHash: manifest.rootHash, grant: grantFor(slot, lease), lease: leaseInfo(slot, lease),
            policy: init.policy ?? 'server-first' };
        }
      }
      const ticket = await nextTicket();
      const waiter: Waiter = { sessionId, peerId, videoId, ticket, since: now, expiresAt: now + init.leaseTtlMs };
      await write(waitKey(sessionId), waiter, null);
      kick(); // a slot may have freed while we queued: the sweep hands it out in ticket order
      return { status: 'denied', sessionId, videoId, rootHash: manifest.rootHash, reason: 'full', position: positionOf(sessionId, ticket, now),
        ttlMs: init.leaseTtlMs, policy: init.policy ?? 'server-first' };
    },

    async heartbeat({ sessionId, peerId }) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const now = clock.now();
        const l = await findLease(sessionId);
        if (l) {
          if (l.value.peerId !== peerId) throw new UnknownSessionError(sessionId);
          const renewed: Lease = { ...l.value, expiresAt: now + init.leaseTtlMs };
          try {
            await write(l.key, renewed, l.revision);
            return { status: 'granted', grant: grantFor(l.slot, renewed), lease: leaseInfo(l.slot, renewed) };
          } catch {
            await refresh(l.key);
            continue;
          }
        }
        const w = await findWaiter(sessionId);
        if (w) {
          if (w.value.peerId !== peerId) throw new UnknownSessionError(sessionId);
          try {
            await write(w.key, { ...w.value, expiresAt: now + init.leaseTtlMs }, w.revision);
            return { status: 'waiting', position: positionOf(sessionId, w.value.ticket, now) };
          } catch {
            await refresh(w.key); // claimed by a sweep meanwhile: look for the slot again
            continue;
          }
        }
        break;
      }
      throw new UnknownSessionError(sessionId);
    },

    async release({ sessionId, peerId }) {
      let released = false;
      const l = await findLease(sessionId);
      if (l && l.value.peerId === peerId) {
        await remove(l.key, l.revision).then(() => (released = true), () => refresh(l.key));
      }
      const w = await findWaiter(sessionId);
      if (w && w.value.peerId === peerId) {
        await remove(w.key, w.revision).then(() => (released = true), () => refresh(w.key));
      }
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
      await sweeping?.catch(() => {});
      await m().restart();
      await publishConfig();
      logger.warn('admission state lost with its bucket: clients will re-open');
    },

    snapshot() {
      const now = clock.now();
      const slots: AdmissionSnapshot['slots'] = [];
      for (let i = 0; i < init.capacity; i++) {
        const e = m().entries.get(slotKey(i)) as MirrorEntry<Lease> | undefined;
        slots.push(e && e.value.expiresAt > now ? { ...e.value, slot: i } : null);
      }
      return { capacity: init.capacity, slots, waiting: liveWaiters(now).map((w) => w.value) };
    },
  };
}
