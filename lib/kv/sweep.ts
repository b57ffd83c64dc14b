/**
 * Sweeping: deleting the entries of a bucket that expired (leases not renewed, waiters gone quiet, peers that
 * stopped announcing). Candidates come from the mirror; each delete is a compare-and-set at the revision the
 * mirror saw, and on a conflict the entry is read again and deleted only if it is still expired, so an entry
 * renewed meanwhile by another worker survives this worker's stale view.
 */
import type { MirrorEntry } from '../kvmirror.js';
import type { Logger } from '../logger.js';
import type { KvStore, RetryPolicy } from './store.js';

export interface SweepOptions<T> {
  /** whether the entry of `key` holding `value` has expired (asked again of the fresh value after a conflict) */
  expired(value: T, key: string): boolean;
  /** only keys for which this holds are looked at (default all) */
  keys?(key: string): boolean;
  /** attempts per entry (default 1: a conflict means someone else wrote it, which usually means it is alive) */
  policy?: RetryPolicy;
  logger: Logger;
}

/** One sweep pass over `store`; resolves to the entries this pass removed (with the values they held). */
export async function sweepExpired<T>(store: KvStore<T>, opts: SweepOptions<T>): Promise<Array<MirrorEntry<T>>> {
  const removed: Array<MirrorEntry<T>> = [];
  const policy = opts.policy ?? { attempts: 1 };
  // a copy: removing notes deletions in the mirror while we iterate
  for (const e of [...store.mirror.entries.values()]) {
    if (opts.keys && !opts.keys(e.key)) continue;
    if (!opts.expired(e.value, e.key)) continue;
    try {
      const gone = await store.removeIf(e.key, (cur) => opts.expired(cur, e.key), { from: e, policy });
      if (gone) removed.push(gone);
    } catch (err) {
      // not a conflict (removeIf handles those): NATS is failing; the next pass tries again
      opts.logger.warn('expired entry not removed', { bucket: store.bucket, key: e.key, err });
    }
  }
  return removed;
}
