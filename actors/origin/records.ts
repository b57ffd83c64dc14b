/**
 * What the admission bucket `sy_admission` holds, and its key names: `slot.<i>` leases, `wait.<sessionId>`
 * entries, the `ticket` counter and the `config` every worker publishes. Shared by the admission writer and the
 * gateway's lease checker (actors/origin/leases.ts).
 */
import { randomBytes } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { encode } from '../../protocol/mod.js';
import { createKvMirror, type KvMirror, type MirrorEntry } from '../../lib/kvmirror.js';
import type { Logger } from '../../lib/logger.js';

export interface Lease {
  sessionId: string;
  peerId: string;
  videoId: string;
  grantedAt: number;
  expiresAt: number;
}
export interface Waiter {
  sessionId: string;
  peerId: string;
  videoId: string;
  ticket: number;
  since: number;
  expiresAt: number;
}
export type Record_ = Lease | Waiter | number;

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


/**
 * The bucket as admission uses it: a watch-fed mirror for reads, and writes that are compare-and-set on the
 * bucket and noted in the mirror at once (so this worker never acts on a view older than its own writes).
 */
export interface AdmissionStore {
  m(): KvMirror<Record_>;
  /** create (prevRev null) or CAS update; resolves to the new revision */
  write(key: string, value: Lease | Waiter | number, prevRev: number | null): Promise<number>;
  /** CAS delete */
  remove(key: string, prevRev: number): Promise<void>;
  /** re-reads one key after a failed CAS so the mirror stops misleading us */
  refresh(key: string): Promise<MirrorEntry<Record_> | null>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createAdmissionStore(kv: KV, logger: Logger): AdmissionStore {
  let mirror: KvMirror<Record_> | null = null;
  const parse = (key: string, bytes: Uint8Array): Record_ | null => {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Record_;
    return isLease(key) || isWaiter(key) || key === TICKET ? v : null; // `config` is not admission state
  };
  const m = () => {
    if (!mirror) throw new Error('admission not started');
    return mirror;
  };
  return {
    m,
    async write(key, value, prevRev) {
      const rev = prevRev ? await kv.update(key, encode(value), prevRev) : await kv.create(key, encode(value));
      m().note(key, rev, value);
      return rev;
    },
    async remove(key, prevRev) {
      await kv.delete(key, { previousSeq: prevRev });
      m().note(key, prevRev + 1, null);
    },
    async refresh(key) {
      const e = await kv.get(key);
      if (e?.operation !== 'PUT') {
        if (e) m().note(key, e.revision, null);
        return null;
      }
      const value = parse(key, e.value);
      m().note(key, e.revision, value);
      return value === null ? null : { key, revision: e.revision, value };
    },
    async start() {
      mirror = await createKvMirror<Record_>(kv, parse, logger);
      await mirror.ready;
    },
    async stop() {
      await mirror?.stop();
      mirror = null;
    },
  };
}
