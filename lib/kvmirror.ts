/**
 * A local, eventually consistent copy of a KV bucket, kept by a watch. Readers use it to avoid a round trip per
 * lookup; writers still use compare-and-set on the bucket itself, so a stale mirror can cost a retry but never
 * correctness. When the mirror has not seen a key yet, callers fall back to a direct `kv.get`.
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from './logger.js';

export interface MirrorEntry<T> {
  key: string;
  revision: number;
  value: T;
}

export interface KvMirror<T> {
  readonly entries: Map<string, MirrorEntry<T>>;
  /** resolves once the initial values are loaded (or after a short grace period) */
  readonly ready: Promise<void>;
  /** records a write this process made, ahead of the watch delivering it */
  note(key: string, revision: number, value: T | null): void;
  /** forgets everything and watches again (after the bucket was lost and recreated) */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function createKvMirror<T>(
  kv: KV,
  parse: (key: string, bytes: Uint8Array) => T | null,
  logger: Logger,
): Promise<KvMirror<T>> {
  const entries = new Map<string, MirrorEntry<T>>();
  // Revision at which a key was last seen deleted, so a late-arriving older PUT cannot resurrect it.
  const tombstones = new Map<string, number>();
  const apply = (key: string, revision: number, value: T | null) => {
    const cur = entries.get(key);
    if (cur && cur.revision > revision) return; // an older event than a write we already noted
    if ((tombstones.get(key) ?? -1) >= revision) return;
    if (value === null) {
      entries.delete(key);
      tombstones.set(key, revision);
    } else {
      tombstones.delete(key);
      entries.set(key, { key, revision, value });
    }
  };
  let stopWatch: () => Promise<void> = async () => {};
  const watch = async (): Promise<{ ready: Promise<void> }> => {
    const watcher = await kv.watch({ key: '>' });
    let markReady: () => void = () => {};
    const ready = new Promise<void>((r) => (markReady = r));
    const grace = setTimeout(() => markReady(), 500);
    const loop = (async () => {
      for await (const e of watcher) {
        try {
          const value = e.operation === 'PUT' ? parse(e.key, e.value) : null;
          apply(e.key, e.revision, value);
        } catch (err) {
          logger.warn('unparseable KV entry ignored', { key: e.key, err });
        }
        if (e.isUpdate || e.delta === 0) markReady();
      }
    })();
    stopWatch = async () => {
      clearTimeout(grace);
      watcher.stop();
      await loop.catch(() => {});
    };
    return { ready };
  };
  const { ready } = await watch();
  return {
    entries,
    ready,
    note(key, revision, value) {
      apply(key, revision, value);
    },
    async restart() {
      await stopWatch();
      // a recreated bucket starts its revisions again: what we knew is gone with the old one
      entries.clear();
      tombstones.clear();
      await (await watch()).ready;
    },
    stop: () => stopWatch(),
  };
}
