/**
 * A local, eventually consistent copy of a KV bucket, kept by a watch. Readers use it to avoid a round trip per
 * lookup; writers still use compare-and-set on the bucket itself (lib/kv/store.ts), so a stale mirror can cost a
 * retry but never correctness. When the mirror has not seen a key yet, callers fall back to a direct read.
 *
 * A watch can die without a word: its iterator may end or throw (connection closed), but more often it just
 * stops delivering (the NATS node holding its consumer died, the consumer was deleted, the bucket was recreated
 * and its revisions started again below the watch's cursor). So the mirror checks its bucket every
 * `checkIntervalMs`: when the stream holds a revision the watch has not delivered since the previous check, the
 * watch is stuck and is re-created from the last revision it delivered; when the stream is new (another
 * creation time, or fewer revisions than already seen) the mirror forgets everything and loads it again. While
 * it knows or fears it is behind, `health().stale` is true; every re-creation is counted and logged.
 *
 * Entries that fail the bucket's codec are logged, counted (`health().skipped`) and treated as absent: one bad
 * value never stops a mirror.
 *
 * A write's acknowledged revision is not trusted as the entry's revision: nats-server 2.9.10 (Debian's) can
 * acknowledge a sequence ahead of the one its leader reads return, once a node restarted (most likely its count
 * of failed proposals drifting between replicas; upstream reworked that later, nats-server#4365 and #5821). Seen
 * on a 3-node cluster: every acknowledged revision 4–5 ahead, so every compare-and-set at a written revision
 * failed, and a fresh read could not correct the mirror
 * (its revision was "older"): heartbeats answered unknown_session until the clients gave up. The watch, served
 * by a replica, numbered the same messages like the acknowledgements, the leader's reads 4–5 lower. So a written
 * entry is provisional (the stream's answer for the key replaces it once newer than the revision the write was
 * based on), and a read, the leader's answer, replaces the entry whatever the revisions: the compare-and-set
 * after a conflict then uses the leader's numbering. A read older than a watch event that crossed it costs at
 * most one more conflict.
 */
import type { KV } from '@nats-io/kv';
import { decodeEntry, type KvCodec } from './kv/codec.js';
import { isStreamMissing } from './kv/errors.js';
import type { Logger } from './logger.js';

export interface MirrorEntry<T> {
  key: string;
  revision: number;
  value: T;
}

/** How the mirror is doing, for operators, dashboards and tests. */
export interface MirrorHealth {
  /** true while the watch is down or behind the bucket (the copy may be old) */
  stale: boolean;
  /** watches re-created after one died or stalled (each logged) */
  restarts: number;
  /** full reloads after the bucket was recreated */
  resyncs: number;
  /** entries skipped because they failed the bucket's codec */
  skipped: number;
  /** highest bucket revision the watch delivered */
  revision: number;
}

export interface KvMirror<T> {
  readonly entries: Map<string, MirrorEntry<T>>;
  /** loads the current values (resolves when loaded, or after a short grace period) and starts watching */
  start(): Promise<void>;
  /**
   * records what the stream leader answered for a key (a direct read): it replaces the entry whatever the
   * revisions say, since the leader is who checks compare-and-set revisions (see the note on nats-server 2.9)
   */
  note(key: string, revision: number, value: T | null): void;
  /**
   * records a write this process made: `revision` as acknowledged, `basedOn` the revision it replaced (for a
   * create, `knownRevision` taken before the write). Provisional until the stream's answer for the key (newer
   * than `basedOn`) replaces it.
   */
  noteWrite(key: string, revision: number, value: T | null, basedOn: number): void;
  /** the stream revision the mirror last learnt for a key (entry or deletion; 0 when none) */
  knownRevision(key: string): number;
  /** a value read directly failed the codec: counted and logged like one the watch met, and hidden */
  noteBad(key: string, revision: number, err: unknown): void;
  /** forgets everything and loads the bucket again (after it was lost and recreated), unless already done */
  restart(): Promise<void>;
  /** checks the watch against the bucket now (also runs on a timer) */
  check(): Promise<void>;
  health(): MirrorHealth;
  stop(): Promise<void>;
}

export interface KvMirrorInit<T> {
  kv: KV;
  codec: KvCodec<T>;
  /** how often the watch is checked against the bucket, ms (default 2000) */
  checkIntervalMs?: number;
  /** how long start() waits at most for the initial values, ms (default 500) */
  graceMs?: number;
}

export function createKvMirror<T>(init: KvMirrorInit<T>, components: { logger: Logger }): KvMirror<T> {
  const { kv, codec } = init;
  const logger = components.logger;
  const bucket = codec.bucket;
  const entries = new Map<string, MirrorEntry<T>>();
  // Revision at which a key was last seen deleted, so a late-arriving older PUT cannot resurrect it.
  const tombstones = new Map<string, number>();
  const health: MirrorHealth = { stale: true, restarts: 0, resyncs: 0, skipped: 0, revision: 0 };
  // Keys whose entry (or deletion) is a write of ours, to the revision that write was based on.
  const provisional = new Map<string, number>();
  const put = (key: string, revision: number, value: T | null) => {
    if (value === null) {
      entries.delete(key);
      tombstones.set(key, revision);
    } else {
      tombstones.delete(key);
      entries.set(key, { key, revision, value });
    }
  };
  /** what the stream says of a key (a watch event) */
  const apply = (key: string, revision: number, value: T | null) => {
    const basedOn = provisional.get(key);
    if (basedOn !== undefined) {
      if (revision <= basedOn) return; // older than what our write replaced
      provisional.delete(key);
      tombstones.delete(key);
    } else {
      const cur = entries.get(key);
      if (cur && cur.revision > revision) return; // an older event than one already applied
      if ((tombstones.get(key) ?? -1) >= revision) return;
    }
    put(key, revision, value);
  };
  const bad = (key: string, revision: number, err: unknown) => {
    health.skipped++;
    logger.warn('bad KV entry skipped', { bucket, key, revision, err });
  };
  const decoded = (key: string, revision: number, bytes: Uint8Array): T | null => {
    try {
      return decodeEntry(codec, key, bytes);
    } catch (err) {
      bad(key, revision, err);
      return null;
    }
  };

  let running = false;
  let watching = false; // a watch exists (it may still be stuck: the checks find that out)
  let generation = 0; // a watch's events count only while it is the current one
  let stopWatch: () => Promise<void> = async () => {};
  let created: string | null = null; // creation time of the stream the current watch reads
  let missing = false; // the last check found no stream
  let pendingTarget: number | null = null; // a revision the stream held at the last check, not yet delivered
  let recovering: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;

  /** Starts a watch (from scratch, or from `from`); resolves when its initial values are in (or the grace ran out). */
  const watch = async (from: number | null): Promise<void> => {
    const gen = ++generation;
    const info = (await kv.status()).streamInfo;
    if (from !== null && created !== null && info.created !== created) {
      // recreated since the last check: resuming at the old revision would skip the new stream's first entries
      logger.warn('KV mirror reloading its bucket', { bucket, why: 'the bucket was recreated', from: 0 });
      health.resyncs++;
      entries.clear();
      tombstones.clear();
      provisional.clear();
      from = null;
    }
    created = info.created;
    // what the stream holds now counts as seen: entries expired by a TTL are never delivered
    if (from === null) health.revision = info.state.last_seq;
    pendingTarget = null;
    const watcher = await kv.watch({ key: '>', ...(from !== null ? { resumeFromRevision: from } : {}) });
    watching = true;
    let markReady: () => void = () => {};
    const ready = new Promise<void>((r) => (markReady = r));
    const grace = setTimeout(() => markReady(), init.graceMs ?? 500);
    const loop = (async () => {
      for await (const e of watcher) {
        if (gen !== generation) break;
        health.revision = Math.max(health.revision, e.revision);
        apply(e.key, e.revision, e.operation === 'PUT' ? decoded(e.key, e.revision, e.value) : null);
        if (e.isUpdate || e.delta === 0) markReady();
      }
    })();
    // a watch that ends by itself (not stopped by us) is dead: start another
    void loop.then(
      () => gen === generation && running && dead('the watch ended'),
      (err: unknown) => gen === generation && running && dead('the watch failed', err),
    );
    stopWatch = async () => {
      clearTimeout(grace);
      generation++;
      watching = false;
      watcher.stop();
      await loop.catch((err: unknown) => logger.debug('watch ended with an error while stopping', { bucket, err }));
    };
    await ready;
    health.stale = false;
  };

  /** Re-creates the watch: from the last delivered revision, or (`resync`) from scratch with an empty copy. */
  const recover = (resync: boolean, why: string, err?: unknown): Promise<void> => {
    recovering ??= (async () => {
      health.stale = true;
      missing = false;
      await stopWatch();
      if (resync) {
        health.resyncs++;
        // a recreated bucket starts its revisions again: what we knew is gone with the old one
        entries.clear();
        tombstones.clear();
        provisional.clear();
        health.revision = 0;
      } else {
        health.restarts++;
      }
      logger.warn(resync ? 'KV mirror reloading its bucket' : 'KV mirror re-creating its watch',
        { bucket, why, from: resync ? 0 : health.revision + 1, ...(err ? { err } : {}) });
      await watch(resync ? null : health.revision + 1);
    })().finally(() => (recovering = null));
    return recovering;
  };
  const dead = (why: string, err?: unknown) => {
    health.stale = true;
    watching = false;
    void recover(false, why, err).catch((e: unknown) =>
      logger.warn('KV mirror could not re-create its watch yet: retrying at the next check', { bucket, err: e }));
  };

  const check = async (): Promise<void> => {
    if (!running || recovering) return;
    let info: Awaited<ReturnType<KV['status']>>['streamInfo'];
    // the answer may arrive after the watch delivered newer revisions: compare it with what was seen before asking
    const seenBefore = health.revision;
    try {
      info = (await kv.status()).streamInfo;
    } catch (err) {
      health.stale = true;
      if (isStreamMissing(err)) {
        // nothing to watch until it is back: recreated (lib/kvguard.ts; another creation time, so a reload), or
        // the same stream once a restarted server has loaded it (same creation time: the watch is resumed)
        missing = true;
        logger.warn('KV bucket missing: mirror waits for it', { bucket });
        return;
      }
      logger.debug('KV mirror check failed', { bucket, err });
      return;
    }
    if (created === null || info.created !== created) return recover(true, 'the bucket was recreated');
    if (info.state.last_seq < seenBefore) {
      // same stream, fewer revisions than we were delivered: an answer from a replica still catching up after a
      // cluster node restarted (seen on a 3-node cluster), not a new bucket. Reloading on it cleared the copy
      // every check while the node caught up; wait for a consistent answer instead.
      health.stale = true;
      logger.debug('KV status behind the watch: ignored', { bucket, lastSeq: info.state.last_seq, seen: seenBefore });
      return;
    }
    if (missing) {
      missing = false;
      return recover(false, 'the bucket is back');
    }
    if (!watching) return recover(false, 'no watch is running (an earlier re-creation failed)');
    if (pendingTarget !== null && health.revision < pendingTarget) {
      return recover(false, `the watch stalled at revision ${health.revision} (bucket at ${info.state.last_seq})`);
    }
    pendingTarget = info.state.last_seq > health.revision ? info.state.last_seq : null;
    health.stale = false;
  };

  return {
    entries,
    async start() {
      running = true;
      await watch(null);
      let checking: Promise<void> | null = null;
      timer = setInterval(() => {
        // a check still waiting for its answer a whole interval later: the bucket cannot be reached (NATS down)
        if (checking) {
          health.stale = true;
          return;
        }
        checking = check()
          .catch((err: unknown) => logger.warn('KV mirror check failed', { bucket, err }))
          .finally(() => (checking = null));
      }, init.checkIntervalMs ?? 2000);
      timer.unref();
    },
    note(key, revision, value) {
      provisional.delete(key);
      put(key, revision, value);
    },
    noteWrite(key, revision, value, basedOn) {
      // the stream already told us of a revision after the one the write replaced: that is the write itself (a
      // compare-and-set succeeded at `basedOn`) or a later one, with its true revision
      if (!provisional.has(key) && Math.max(entries.get(key)?.revision ?? 0, tombstones.get(key) ?? 0) > basedOn) return;
      // else the write is newer than anything we knew of the key, whatever its acknowledged revision says
      provisional.set(key, basedOn);
      put(key, revision, value);
    },
    knownRevision(key) {
      return provisional.get(key) ?? Math.max(entries.get(key)?.revision ?? 0, tombstones.get(key) ?? 0);
    },
    noteBad(key, revision, err) {
      bad(key, revision, err);
      provisional.delete(key);
      put(key, revision, null);
    },
    async restart() {
      // the mirror's own check may have reloaded the new bucket already: a second reload would only cost time
      const info = await kv.status().then((st) => st.streamInfo, (err: unknown) => {
        logger.debug('KV status unavailable: reloading anyway', { bucket, err });
        return null;
      });
      if (info && watching && !recovering && info.created === created) return;
      await recover(true, 'asked to reload');
    },
    check,
    health: () => ({ ...health }),
    async stop() {
      running = false;
      if (timer) clearInterval(timer);
      timer = null;
      await recovering?.catch((err: unknown) => logger.debug('recovery ended by stop', { bucket, err }));
      await stopWatch();
    },
  };
}
