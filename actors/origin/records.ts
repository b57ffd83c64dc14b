/**
 * What the admission bucket `sy_admission` holds, and its key names: `slot.<i>` leases, `wait.<sessionId>`
 * entries, the `ticket` counter and the `config` every worker publishes. One schema per key family, in one codec
 * shared by the admission writer and the gateway's lease checker (actors/origin/leases.ts): values are checked
 * when written and when read back, and read into a tagged union so that no reader casts.
 */
import { randomBytes } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { KV } from '@nats-io/kv';
import { ID_PATTERN, MAX_CONTROL_BYTES } from '../../protocol/mod.js';
import {
  BucketSpecs, createKvStore, KvEntryError, readAs, writeAs, type KvCodec, type KvStore, type MirrorEntry,
} from '../../lib/kv/mod.js';
import type { Logger } from '../../lib/logger.js';

const IdT = Type.String({ pattern: ID_PATTERN.source });

/** `slot.<i>`: who holds slot i and until when. */
export const Lease = Type.Object({
  sessionId: IdT,
  peerId: IdT,
  videoId: IdT,
  grantedAt: Type.Number(),
  expiresAt: Type.Number(),
  /** the video's size (a stored video; absent for a live stream): what a turn's share is cut from */
  videoBytes: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type Lease = Static<typeof Lease>;

/** `wait.<sessionId>`: a waiting client, served in `ticket` order. */
export const Waiter = Type.Object({
  sessionId: IdT,
  peerId: IdT,
  videoId: IdT,
  ticket: Type.Integer({ minimum: 1 }),
  since: Type.Number(),
  expiresAt: Type.Number(),
  videoBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** had its turn (yielded the slot): offered one again only when it `need`s one and no unparked waiter is left */
  parked: Type.Optional(Type.Boolean()),
  need: Type.Optional(Type.Boolean()),
});
export type Waiter = Static<typeof Waiter>;

/** `config`: capacity and policy as the origin workers publish them (read by gateways and dashboards). */
export const AdmissionConfig = Type.Object({
  capacity: Type.Integer({ minimum: 0 }),
  policy: Type.String({ maxLength: 64 }),
  leaseTtlMs: Type.Number({ minimum: 0 }),
  /**
   * swarm-aware: origin egress per video the operator aims at, as a multiple of the video's size (turns share it
   * out; gateways stop sending second copies once a video's sends reach it). Absent: no target.
   */
  egressTarget: Type.Optional(Type.Number({ minimum: 1, maximum: 1_000_000 })),
});
export type AdmissionConfig = Static<typeof AdmissionConfig>;

/** `ticket`: the last wait-list ticket handed out. */
const Ticket = Type.Integer({ minimum: 0 });

/** One entry of the bucket, tagged by its key family. */
export type AdmissionRecord =
  | { kind: 'lease'; lease: Lease }
  | { kind: 'waiter'; waiter: Waiter }
  | { kind: 'ticket'; ticket: number }
  | { kind: 'config'; config: AdmissionConfig };

export interface AdmissionSnapshot {
  capacity: number;
  slots: Array<(Lease & { slot: number }) | null>;
  waiting: Waiter[];
}

export const slotKey = (i: number) => `slot.${i}`;
export const waitKey = (sessionId: string) => `wait.${sessionId}`;
export const TICKET = 'ticket';
export const CONFIG = 'config';
export const newSessionId = () => `s${randomBytes(9).toString('base64url')}`;
export const isLease = (k: string) => k.startsWith('slot.');
export const isWaiter = (k: string) => k.startsWith('wait.');
/** the slot index of a `slot.<i>` key */
export const slotOf = (key: string) => Number(key.slice('slot.'.length));

const bucket = BucketSpecs.admission.name;

/** The admission bucket's codec: a key's family decides its schema; a waiter is filed under its own session. */
export const admissionCodec: KvCodec<AdmissionRecord> = {
  bucket,
  maxBytes: MAX_CONTROL_BYTES,
  read(key, json) {
    if (isLease(key)) return { kind: 'lease', lease: readAs(bucket, key, Lease, json) };
    if (isWaiter(key)) {
      const waiter = readAs(bucket, key, Waiter, json);
      if (waitKey(waiter.sessionId) !== key) throw new KvEntryError(bucket, key, `a waiter of ${waiter.sessionId}`);
      return { kind: 'waiter', waiter };
    }
    if (key === TICKET) return { kind: 'ticket', ticket: readAs(bucket, key, Ticket, json) };
    if (key === CONFIG) return { kind: 'config', config: readAs(bucket, key, AdmissionConfig, json) };
    return null; // not admission state
  },
  write(key, r) {
    switch (r.kind) {
      case 'lease':
        return writeAs(bucket, key, Lease, isLease(key) ? r.lease : null);
      case 'waiter':
        return writeAs(bucket, key, Waiter, key === waitKey(r.waiter.sessionId) ? r.waiter : null);
      case 'ticket':
        return writeAs(bucket, key, Ticket, key === TICKET ? r.ticket : null);
      case 'config':
        return writeAs(bucket, key, AdmissionConfig, key === CONFIG ? r.config : null);
    }
  },
};

/** Narrows a record to a lease (undefined for anything else). */
export const leaseOf = (r: AdmissionRecord | undefined): Lease | undefined =>
  r?.kind === 'lease' ? r.lease : undefined;
/** Narrows a record to a waiter (undefined for anything else). */
export const waiterOf = (r: AdmissionRecord | undefined): Waiter | undefined =>
  r?.kind === 'waiter' ? r.waiter : undefined;
/** Narrows a record to the published config (undefined for anything else). */
export const configOf = (r: AdmissionRecord | undefined): AdmissionConfig | undefined =>
  r?.kind === 'config' ? r.config : undefined;

/** A mirror entry narrowed by `pick` (undefined when the entry is absent or of another family). */
function narrow<V>(e: MirrorEntry<AdmissionRecord> | null | undefined, pick: (r: AdmissionRecord) => V | undefined) {
  const value = e ? pick(e.value) : undefined;
  return e && value !== undefined ? { key: e.key, revision: e.revision, value } : undefined;
}

/** The bucket as admission uses it: typed reads of the mirror and the bucket, and compare-and-set writes. */
export interface AdmissionStore {
  readonly store: KvStore<AdmissionRecord>;
  /** slot i's lease as the mirror has it */
  lease(i: number): MirrorEntry<Lease> | undefined;
  /** slot i's lease read from the bucket (after a failed CAS, or a mirror miss) */
  readLease(i: number): Promise<MirrorEntry<Lease> | undefined>;
  waiter(sessionId: string): MirrorEntry<Waiter> | undefined;
  readWaiter(sessionId: string): Promise<MirrorEntry<Waiter> | undefined>;
  /** every waiter in the mirror, in no particular order */
  waiters(): Array<MirrorEntry<Waiter>>;
  /** create (prevRev null) or CAS update; KvConflictError when another writer was first */
  writeLease(i: number, lease: Lease, prevRev: number | null): Promise<number>;
  writeWaiter(waiter: Waiter, prevRev: number | null): Promise<number>;
  /** CAS delete */
  remove(key: string, prevRev: number): Promise<void>;
  /** the next wait-list ticket (a CAS counter shared by every worker) */
  nextTicket(): Promise<number>;
  publishConfig(config: AdmissionConfig): Promise<void>;
  start(): Promise<void>;
  /** forgets the mirror's copy and loads the bucket again (after it was recreated) */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function createAdmissionStore(kv: KV, logger: Logger): AdmissionStore {
  const store = createKvStore<AdmissionRecord>({ kv, codec: admissionCodec }, { logger });
  return {
    store,
    lease: (i) => narrow(store.peek(slotKey(i)), leaseOf),
    readLease: async (i) => narrow(await store.read(slotKey(i)), leaseOf),
    waiter: (sessionId) => narrow(store.peek(waitKey(sessionId)), waiterOf),
    readWaiter: async (sessionId) => narrow(await store.read(waitKey(sessionId)), waiterOf),
    waiters() {
      const out: Array<MirrorEntry<Waiter>> = [];
      for (const e of store.mirror.entries.values()) {
        const w = narrow(e, waiterOf);
        if (w) out.push(w);
      }
      return out;
    },
    writeLease: (i, lease, prevRev) => store.write(slotKey(i), { kind: 'lease', lease }, prevRev),
    writeWaiter: (waiter, prevRev) => store.write(waitKey(waiter.sessionId), { kind: 'waiter', waiter }, prevRev),
    remove: (key, prevRev) => store.remove(key, prevRev),
    async nextTicket() {
      // many attempts, no backoff: a ticket is one tiny write, and every worker's opens queue behind it
      const bump = (cur: AdmissionRecord | null): AdmissionRecord =>
        ({ kind: 'ticket', ticket: (cur?.kind === 'ticket' ? cur.ticket : 0) + 1 });
      const next = await store.mutate(TICKET, bump, { attempts: 50 });
      if (next?.kind !== 'ticket') throw new TypeError('ticket counter wrote no ticket');
      return next.ticket;
    },
    async publishConfig(config) {
      await store.put(CONFIG, { kind: 'config', config });
    },
    start: () => store.start(),
    restart: () => store.mirror.restart(),
    stop: () => store.stop(),
  };
}
