/**
 * The one compare-and-set engine over a KV bucket: a watch-fed mirror (lib/kvmirror.ts) for reads, and writes
 * that are compare-and-set on the bucket and noted in the mirror at once, so this process never acts on a view
 * older than its own writes. A lost compare-and-set is a KvConflictError (JetStream API code 10071), never a
 * guess from an error message; what to do about it is the caller's decision, or the retry policy's in `mutate`.
 */
import type { KV } from '@nats-io/kv';
import { createKvMirror, type KvMirror, type MirrorEntry } from '../kvmirror.js';
import type { Logger } from '../logger.js';
import { decodeEntry, encodeEntry, type KvCodec } from './codec.js';
import { isWrongLastSequence, KvConflictError, KvContentionError } from './errors.js';

/** How often a compare-and-set loop tries again when other writers win, and how long it waits in between. */
export interface RetryPolicy {
  attempts: number;
  /** ms to wait before attempt `attempt + 1` (default: none) */
  backoffMs?(attempt: number): number;
}

/** Tracker-style contention: many attempts with a short jittered backoff (≤ 50 ms). */
export const JITTERED_RETRY: RetryPolicy = {
  attempts: 20,
  backoffMs: (attempt) => Math.random() * Math.min(50, 2 ** attempt),
};

export interface KvStore<T> {
  /** the bucket's name, for logs */
  readonly bucket: string;
  readonly kv: KV;
  readonly mirror: KvMirror<T>;
  /** the mirror's entry (no I/O) */
  peek(key: string): MirrorEntry<T> | undefined;
  /** a direct read, noted in the mirror; null when absent, deleted, of no interest or bad (logged, counted) */
  read(key: string): Promise<MirrorEntry<T> | null>;
  /** mirror first, then a direct read */
  get(key: string): Promise<MirrorEntry<T> | null>;
  /** create (prevRev null) or update at `prevRev`; resolves to the new revision; KvConflictError when beaten */
  write(key: string, value: T, prevRev: number | null): Promise<number>;
  /** unconditional write, for values nobody races for (a worker's published config) */
  put(key: string, value: T): Promise<number>;
  /** delete at `prevRev`; KvConflictError when the key changed meanwhile */
  remove(key: string, prevRev: number): Promise<void>;
  /**
   * Read-compute-write until it sticks: `next` gets the current value (mirror first, the bucket after a conflict)
   * and returns the new one, or undefined for "no write". Writes of one key from this process run one at a time.
   * KvContentionError when every attempt lost.
   */
  mutate(key: string, next: (cur: T | null) => T | undefined, policy?: RetryPolicy): Promise<T | null>;
  /**
   * CAS delete while `stillWanted` holds for the current value (starting from `from`, else a fresh read): the
   * entry this call removed, or null when it is gone, no longer wanted, or every attempt lost.
   */
  removeIf(
    key: string, stillWanted: (cur: T) => boolean, opts?: { from?: MirrorEntry<T>; policy?: RetryPolicy },
  ): Promise<MirrorEntry<T> | null>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface KvStoreInit<T> {
  kv: KV;
  codec: KvCodec<T>;
  /** retry policy of `mutate` and `removeIf` when none is given (default JITTERED_RETRY) */
  retry?: RetryPolicy;
  /** mirror check interval, ms (lib/kvmirror.ts) */
  checkIntervalMs?: number;
}

const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

export function createKvStore<T>(init: KvStoreInit<T>, components: { logger: Logger }): KvStore<T> {
  const { kv, codec } = init;
  const bucket = codec.bucket;
  const checks = init.checkIntervalMs ? { checkIntervalMs: init.checkIntervalMs } : {};
  const mirror = createKvMirror<T>({ kv, codec, ...checks }, components);
  const defaultPolicy = init.retry ?? JITTERED_RETRY;

  /** JetStream's "wrong last sequence" becomes KvConflictError; everything else passes unchanged. */
  const typed = (key: string) => (err: unknown): never => {
    throw isWrongLastSequence(err) ? new KvConflictError(bucket, key, { cause: err }) : err;
  };

  /**
   * One local queue per key: CAS alone is correct, but N concurrent writers of one key in one process would make
   * N−1 fail per round, O(N²) round trips; queueing them leaves conflicts only between processes.
   */
  const keyQueues = new Map<string, Promise<unknown>>();
  function serially<R>(key: string, fn: () => Promise<R>): Promise<R> {
    const run = (keyQueues.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = run.then(() => undefined, () => undefined); // the next in line runs whatever this one did
    keyQueues.set(key, tail);
    void tail.then(() => {
      if (keyQueues.get(key) === tail) keyQueues.delete(key);
    });
    return run;
  }

  const read = async (key: string): Promise<MirrorEntry<T> | null> => {
    const e = await kv.get(key);
    if (e?.operation !== 'PUT') {
      // the leader has no value for it: neither has the mirror. A key the leader never had leaves no tombstone
      // unless the mirror held it (keys read are caller-chosen, e.g. a stranger's session id: no unbounded map)
      if (e) mirror.note(key, e.revision, null);
      else if (mirror.entries.has(key)) mirror.note(key, mirror.knownRevision(key), null);
      return null;
    }
    let value: T | null;
    try {
      value = decodeEntry(codec, key, e.value);
    } catch (err) {
      mirror.noteBad(key, e.revision, err); // treated as absent, like the watch treats it
      return null;
    }
    mirror.note(key, e.revision, value);
    return value === null ? null : { key, revision: e.revision, value };
  };

  const write = async (key: string, value: T, prevRev: number | null): Promise<number> => {
    const bytes = encodeEntry(codec, key, value);
    const basedOn = prevRev ?? mirror.knownRevision(key);
    const rev = await (prevRev ? kv.update(key, bytes, prevRev) : kv.create(key, bytes)).catch(typed(key));
    mirror.noteWrite(key, rev, value, basedOn);
    return rev;
  };

  const remove = async (key: string, prevRev: number): Promise<void> => {
    await kv.delete(key, { previousSeq: prevRev }).catch(typed(key));
    // the delete marker's revision is > prevRev; noting prevRev+1 hides the key now, the watch confirms it
    mirror.noteWrite(key, prevRev + 1, null, prevRev);
  };

  return {
    bucket,
    kv,
    mirror,
    peek: (key) => mirror.entries.get(key),
    read,
    get: async (key) => mirror.entries.get(key) ?? (await read(key)),
    write,
    async put(key, value) {
      const basedOn = mirror.knownRevision(key);
      const rev = await kv.put(key, encodeEntry(codec, key, value));
      mirror.noteWrite(key, rev, value, basedOn);
      return rev;
    },
    remove,
    mutate(key, next, policy = defaultPolicy) {
      return serially(key, async () => {
        let cur = mirror.entries.get(key) ?? (await read(key));
        for (let attempt = 0; attempt < policy.attempts; attempt++) {
          const value = next(cur?.value ?? null);
          if (value === undefined) return cur?.value ?? null;
          try {
            await write(key, value, cur ? cur.revision : null);
            return value;
          } catch (err) {
            if (!(err instanceof KvConflictError)) throw err;
            await sleep(policy.backoffMs?.(attempt) ?? 0);
            cur = await read(key);
          }
        }
        throw new KvContentionError(bucket, key, policy.attempts);
      });
    },
    removeIf(key, stillWanted, opts = {}) {
      const policy = opts.policy ?? defaultPolicy;
      return serially(key, async () => {
        let cur = opts.from ?? (await read(key));
        for (let attempt = 0; attempt < policy.attempts && cur; attempt++) {
          if (!stillWanted(cur.value)) return null;
          try {
            await remove(key, cur.revision);
            return cur;
          } catch (err) {
            if (!(err instanceof KvConflictError)) throw err;
            await sleep(policy.backoffMs?.(attempt) ?? 0);
            cur = await read(key);
          }
        }
        return null;
      });
    },
    start: () => mirror.start(),
    stop: () => mirror.stop(),
  };
}
