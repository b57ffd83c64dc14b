/**
 * Read side of admission for the gateway: does this session still hold the slot its grant names? Answered from
 * a watch-fed mirror of the admission bucket, falling back to one direct KV read when the mirror disagrees (it
 * may lag a fresh grant by a few milliseconds). This is what makes a released or expired slot stop serving at
 * once instead of when the grant token expires.
 */
import { Kvm } from '@nats-io/kv';
import { Buckets, type GrantClaims } from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import { guardBucket } from '../../lib/kvguard.js';
import { createKvMirror, type KvMirror } from '../../lib/kvmirror.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import type { Lease, Waiter } from './admission.js';

export interface AdmissionConfig {
  capacity: number;
  policy: string;
  leaseTtlMs: number;
}

export interface LeaseChecker {
  /** true when the claims' session holds the claims' slot with an unexpired lease for the claims' video */
  holds(claims: GrantClaims): Promise<boolean>;
  /** live leases, for dashboards and tests */
  live(): Array<Lease & { slot: number }>;
  /** the wait list, longest waiting first */
  waiting(): Waiter[];
  /** capacity and policy as the origin workers published them (null before any worker started) */
  config(): AdmissionConfig | null;
  stop(): Promise<void>;
}

export async function createLeaseChecker(
  components: { nc: NatsConnection; clock: Clock; logger: Logger },
): Promise<LeaseChecker> {
  const kv = await new Kvm(components.nc).create(Buckets.admission, { history: 1 });
  type Entry = Lease | Waiter | AdmissionConfig;
  const parse = (key: string, bytes: Uint8Array): Entry | null =>
    key.startsWith('slot.') || key.startsWith('wait.') || key === 'config'
      ? (JSON.parse(new TextDecoder().decode(bytes)) as Entry) : null;
  const mirror: KvMirror<Entry> = await createKvMirror<Entry>(kv, parse, components.logger);
  await mirror.ready;
  // the origin recreates a lost bucket; the gateway only has to watch the new one (or recreate it first)
  const guard = guardBucket({ bucket: Buckets.admission, options: { history: 1 }, onRecreated: () => mirror.restart() },
    components);
  const ok = (l: Lease | null | undefined, c: GrantClaims) =>
    !!l && l.sessionId === c.s && l.peerId === c.p && l.videoId === c.v && l.expiresAt > components.clock.now();
  return {
    async holds(c) {
      const key = `slot.${c.n}`;
      if (ok(mirror.entries.get(key)?.value as Lease | undefined, c)) return true;
      const e = await kv.get(key);
      if (e?.operation !== 'PUT') return false;
      const l = parse(key, e.value) as Lease | null;
      if (l) mirror.note(key, e.revision, l);
      return ok(l, c);
    },
    live() {
      const now = components.clock.now();
      const out: Array<Lease & { slot: number }> = [];
      for (const e of mirror.entries.values()) {
        const l = e.value as Lease;
        if (e.key.startsWith('slot.') && l.expiresAt > now) out.push({ ...l, slot: Number(e.key.slice(5)) });
      }
      return out.sort((a, b) => a.slot - b.slot);
    },
    waiting() {
      const now = components.clock.now();
      return [...mirror.entries.values()]
        .filter((e) => e.key.startsWith('wait.') && (e.value as Waiter).expiresAt > now)
        .map((e) => e.value as Waiter)
        .sort((a, b) => a.ticket - b.ticket);
    },
    config() {
      return (mirror.entries.get('config')?.value as AdmissionConfig | undefined) ?? null;
    },
    async stop() {
      guard.stop();
      await mirror.stop();
    },
  };
}
