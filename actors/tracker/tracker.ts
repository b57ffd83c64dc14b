/**
 * The tracker actor: per-video swarm membership served on `sy.tracker.<videoId>.<verb>` in the `tracker` queue
 * group. All state lives in the JetStream KV bucket `sy_swarm` under `<videoId>.<peerId>`, so a restarted or added
 * worker knows the whole swarm, and operators can shard by video with subject mappings (the video is a subject
 * token). Each worker keeps a watch-fed mirror of the bucket so that a listing costs no KV round trip; every write
 * is a compare-and-set on the bucket itself, so a stale mirror costs a retry, never a lost update.
 *
 * Peers re-announce every `intervalMs`; one not seen for 3 × intervalMs is stale: never listed, and deleted by
 * the periodic sweep (CAS delete, so a peer that re-announced meanwhile survives a worker's stale view).
 *
 * Trust: peer ids are chosen by peers, so the tracker cannot stop a peer from announcing under a fresh id; reports
 * only make a misbehaving id useless to the peers that saw it misbehave (and to everyone once two distinct known
 * members report it). Reports survive re-announces of the same id.
 */
import { Kvm, type KV } from '@nats-io/kv';
import { Type, type TSchema } from '@sinclair/typebox';
import {
  Announce, BadRequestError, bitfieldBytes, Buckets, fromBase64, HaveUpdate, Leave, MAX_TRACKER_MESSAGE_BYTES,
  parseTrackerSubject, QueueGroups, Report, setBit, Subjects, toBase64, TrackerVerbs, UnavailableError, UnknownSessionError, validate,
  type AnnounceReply, type OkReply, type TrackerVerb,
} from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import { guardBucket, type BucketGuard } from '../../lib/kvguard.js';
import { createKvMirror, type KvMirror, type MirrorEntry } from '../../lib/kvmirror.js';
import type { Logger } from '../../lib/logger.js';
import { serve, type Msg, type NatsConnection, type Subscription } from '../../lib/nats.js';
import { openLinkBook, type LinkBook } from '../signal/links.js';
import { decodeAnnouncedBits, isCasConflict, SwarmPeer } from './records.js';
import { availability, popcount, rankPeers, type ScoreCandidate } from './score.js';

export { decodeAnnouncedBits, SwarmPeer } from './records.js';

export interface TrackerInit {
  /** re-announce interval told to peers, ms (default 5000, ≥ 100); stale after 3 × this */
  intervalMs?: number;
  /** how often this worker deletes stale entries, ms (default intervalMs) */
  sweepIntervalMs?: number;
  /** name for logs */
  workerId?: string;
}

export interface TrackerComponents {
  nc: NatsConnection;
  clock: Clock;
  logger: Logger;
  /** evidence of negotiated links (default: the relay's `sy_links` bucket) */
  links?: LinkBook;
}

export interface Tracker {
  readonly workerId: string;
  readonly intervalMs: number;
  /** requests this worker answered, by verb (shows the queue group spreading load) */
  readonly served: Record<string, number>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** fresh peers of a video as this worker's mirror sees them (dashboards, tests) */
  snapshot(videoId: string): SwarmPeer[];
  /** one sweep pass (also runs on a timer) */
  sweep(): Promise<void>;
}

export const TRACKER_DEFAULTS = { intervalMs: 5000, want: 20, staleFactor: 3 } as const;
/** cap on the report list: two distinct reporters already ban; the rest is evidence for operators */
export const MAX_REPORTS = 64;
const CAS_ATTEMPTS = 20;

const swarmKey = (videoId: string, peerId: string) => `${videoId}.${peerId}`;

export async function createTracker(init: TrackerInit, components: TrackerComponents): Promise<Tracker> {
  const { nc, clock, logger } = components;
  const intervalMs = init.intervalMs ?? TRACKER_DEFAULTS.intervalMs;
  if (!Number.isInteger(intervalMs) || intervalMs < 100) throw new TypeError('intervalMs must be an integer ≥ 100');
  const sweepIntervalMs = init.sweepIntervalMs ?? intervalMs;
  if (!(sweepIntervalMs > 0)) throw new TypeError('sweepIntervalMs must be > 0');
  const staleMs = TRACKER_DEFAULTS.staleFactor * intervalMs;
  const workerId = init.workerId ?? `tracker-${process.pid}`;
  const kv: KV = await new Kvm(nc).create(Buckets.swarm, { history: 1 });
  const links = components.links ?? (await openLinkBook(nc));

  let mirror: KvMirror<SwarmPeer> | null = null;
  let guard: BucketGuard | null = null;
  let sub: Subscription | null = null;
  let timer: NodeJS.Timeout | null = null;
  let sweeping: Promise<void> | null = null;
  const inflight = new Set<Promise<unknown>>();
  const served: Record<string, number> = {};

  const m = () => {
    if (!mirror) throw new Error('tracker not started');
    return mirror;
  };
  const parse = (key: string, bytes: Uint8Array): SwarmPeer | null => {
    const v = validate(SwarmPeer, JSON.parse(new TextDecoder().decode(bytes)), 'swarm entry');
    return key === swarmKey(v.videoId, v.peerId) ? v : null;
  };
  const encodeRec = (v: SwarmPeer) => new TextEncoder().encode(JSON.stringify(v));

  // Decoding a bitfield per listing per candidate would dominate announce cost; records are immutable values
  // replaced on every write, so a WeakMap keyed by the record caches the decoded bits exactly as long as useful.
  const decoded = new WeakMap<SwarmPeer, { bits: Uint8Array; have: number }>();
  const bitsOf = (p: SwarmPeer) => {
    let d = decoded.get(p);
    if (!d) {
      const bits = new Uint8Array(bitfieldBytes(p.chunkCount));
      bits.set((fromBase64(p.bitfield) ?? bits).subarray(0, bits.length));
      d = { bits, have: popcount(bits) };
      decoded.set(p, d);
    }
    return d;
  };
  const isFresh = (p: SwarmPeer, now: number) => now - p.lastSeen <= staleMs;

  /**
   * Writes to one key run one at a time within this worker. CAS alone is correct, but N concurrent writers of one
   * key (a peer's burst of haves) would make N−1 fail per round, O(N²) round trips; queueing them locally leaves
   * conflicts only between workers, where the jittered backoff below spreads the retries.
   */
  const keyQueues = new Map<string, Promise<unknown>>();
  function serially<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (keyQueues.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => {});
    keyQueues.set(key, tail);
    void tail.then(() => {
      if (keyQueues.get(key) === tail) keyQueues.delete(key);
    });
    return run;
  }
  const backoff = (attempt: number) =>
    new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));

  /** re-reads one key after a failed CAS (or a mirror miss) so the mirror stops misleading us */
  const refresh = async (key: string): Promise<MirrorEntry<SwarmPeer> | null> => {
    const e = await kv.get(key);
    if (e?.operation !== 'PUT') {
      if (e) m().note(key, e.revision, null);
      return null;
    }
    let value: SwarmPeer | null = null;
    try {
      value = parse(key, e.value);
    } catch (err) {
      logger.warn('unparseable swarm entry treated as absent', { key, err });
    }
    if (value) m().note(key, e.revision, value);
    return value ? { key, revision: e.revision, value } : null;
  };

  /**
   * Compare-and-set loop: `next` computes the new record from the current one (mirror first, the bucket after a
   * conflict); returning undefined means "no write". Concurrent writers (other workers, or this one) make the CAS
   * fail, and the loop recomputes from the fresh value, so no update is lost.
   */
  function mutate(key: string, next: (cur: SwarmPeer | null) => SwarmPeer | undefined): Promise<SwarmPeer | null> {
    return serially(key, async () => {
      let cur: MirrorEntry<SwarmPeer> | null = m().entries.get(key) ?? (await refresh(key));
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const value = next(cur?.value ?? null);
        if (value === undefined) return cur?.value ?? null;
        try {
          const rev = cur ? await kv.update(key, encodeRec(value), cur.revision) : await kv.create(key, encodeRec(value));
          m().note(key, rev, value);
          return value;
        } catch (err) {
          if (!isCasConflict(err)) throw err;
          await backoff(attempt);
          cur = await refresh(key);
        }
      }
      throw new Error(`could not update ${key}: too much contention`);
    });
  }

  /** CAS delete; true when this call removed a live entry. */
  function remove(key: string, stillWanted: (cur: SwarmPeer) => boolean): Promise<boolean> {
    return serially(key, async () => {
      let cur: MirrorEntry<SwarmPeer> | null = await refresh(key);
      for (let attempt = 0; attempt < CAS_ATTEMPTS && cur; attempt++) {
        if (!stillWanted(cur.value)) return false;
        try {
          await kv.delete(key, { previousSeq: cur.revision });
          // the delete marker's revision is > cur.revision; noting cur+1 hides the key now, the watch confirms
          m().note(key, cur.revision + 1, null);
          return true;
        } catch (err) {
          if (!isCasConflict(err)) throw err;
          await backoff(attempt);
          cur = await refresh(key);
        }
      }
      return false;
    });
  }

  /** Fresh members of one video with the same chunk count as `chunkCount` (when given). */
  function members(videoId: string, now: number, chunkCount?: number): SwarmPeer[] {
    const prefix = `${videoId}.`;
    const out: SwarmPeer[] = [];
    for (const [key, e] of m().entries) {
      if (!key.startsWith(prefix) || !isFresh(e.value, now)) continue;
      if (chunkCount !== undefined && e.value.chunkCount !== chunkCount) continue;
      out.push(e.value);
    }
    return out;
  }

  async function announce(videoId: string, peerId: string, a: Announce): Promise<AnnounceReply> {
    const bits = decodeAnnouncedBits(a.bitfield, a.chunkCount);
    const now = clock.now();
    const have = popcount(bits);
    const self = await mutate(swarmKey(videoId, peerId), (cur) => {
      // Only the peer itself can announce under its id (the subject is enforced), so its latest announce is the
      // truth even when it contradicts an earlier one: refusing it would lock the peer out of its own swarm.
      // Only the reports (other peers' verdict) are carried over.
      return {
        peerId, videoId, chunkCount: a.chunkCount, bitfield: a.bitfield, uploads: a.uploads,
        uploadBps: a.uploadBps, complete: have === a.chunkCount, lastSeen: now,
        ...(a.spare !== undefined ? { spare: a.spare } : {}),
        ...(a.rttMs ? { rttMs: a.rttMs } : {}),
        ...(a.throughputBps ? { throughputBps: a.throughputBps } : {}),
        ...(cur?.reports?.length ? { reports: cur.reports } : {}),
      };
    });
    if (!self) throw new Error('announce wrote nothing');
    decoded.set(self, { bits, have });
    // Peers with another chunk count are in a different swarm as far as bitfields go (a buggy or lying peer):
    // comparing bitfields of different lengths is meaningless, and isolating them keeps them from skewing rarity.
    const swarm = members(videoId, now, a.chunkCount);
    const sources = swarm.filter((p) => p.uploads);
    const avail = availability(a.chunkCount, sources.map((p) => bitsOf(p).bits));
    const candidates: ScoreCandidate[] = [];
    for (const p of sources) {
      if (p.peerId === peerId) continue;
      const reports = p.reports ?? [];
      if (reports.length >= 2 || reports.includes(peerId)) continue;
      const d = bitsOf(p);
      candidates.push({ peerId: p.peerId, bits: d.bits, have: d.have, uploadBps: p.uploadBps });
    }
    const peers = rankPeers({
      peerId, chunkCount: a.chunkCount, bits,
      ...(a.rttMs ? { rttMs: a.rttMs } : {}),
      ...(a.throughputBps ? { throughputBps: a.throughputBps } : {}),
    }, candidates, avail, a.want ?? TRACKER_DEFAULTS.want);
    const swarmSize = members(videoId, now).length;
    return { peers, intervalMs, swarmSize };
  }

  async function haveUpdate(videoId: string, peerId: string, h: HaveUpdate): Promise<OkReply> {
    await mutate(swarmKey(videoId, peerId), (cur) => {
      // unknown_session tells the peer what to do: announce again (it expired or never announced)
      if (!cur) throw new UnknownSessionError(swarmKey(videoId, peerId));
      const bits = new Uint8Array(bitsOf(cur).bits);
      for (const i of h.indexes) {
        if (i >= cur.chunkCount) throw new BadRequestError(`chunk index ${i} out of range (${cur.chunkCount} chunks)`);
        setBit(bits, i);
      }
      // a have is a sign of life too, so it refreshes lastSeen
      return { ...cur, bitfield: toBase64(bits), complete: popcount(bits) === cur.chunkCount,
        lastSeen: clock.now() };
    });
    return { ok: true };
  }

  async function leave(videoId: string, peerId: string, _l: Leave): Promise<OkReply> {
    await remove(swarmKey(videoId, peerId), () => true);
    return { ok: true };
  }

  async function report(videoId: string, peerId: string, r: Report): Promise<OkReply> {
    if (r.offender === peerId) throw new BadRequestError('a peer cannot report itself');
    // Only members may report: otherwise anyone could invent two reporter ids and ban any peer for free.
    const reporterKey = swarmKey(videoId, peerId);
    const reporter = m().entries.get(reporterKey) ?? (await refresh(reporterKey));
    if (!reporter || !isFresh(reporter.value, clock.now())) throw new UnknownSessionError(reporterKey);
    // ...and only about a peer it really negotiated a link with (the relay's evidence): fresh ids that never
    // talked to a seed cannot vote it out of the swarm
    if (!(await links.has(videoId, peerId, r.offender))) {
      throw new BadRequestError(`no link between ${peerId} and ${r.offender} was negotiated: nothing to report`);
    }
    // An offender that already left has nothing left to be listed from; the report is moot, not an error.
    await mutate(swarmKey(videoId, r.offender), (cur) => {
      if (!cur) return undefined;
      const reports = cur.reports ?? [];
      if (reports.includes(peerId) || reports.length >= MAX_REPORTS) return undefined;
      return { ...cur, reports: [...reports, peerId] };
    });
    logger.info('peer reported', { videoId, offender: r.offender, by: peerId, reason: r.reason });
    return { ok: true };
  }

  async function sweepOnce(): Promise<void> {
    const now = clock.now();
    for (const [key, e] of [...m().entries]) {
      if (isFresh(e.value, now)) continue;
      // stillWanted re-checks against the bucket's current value: a re-announce on another worker wins
      const removed = await remove(key, (cur) => !isFresh(cur, clock.now())).catch((err) => {
        logger.warn('stale entry not removed', { key, err });
        return false;
      });
      if (removed) logger.debug('stale peer dropped', { key });
    }
  }

  function sweep(): Promise<void> {
    sweeping ??= sweepOnce().finally(() => (sweeping = null));
    return sweeping;
  }

  const routes: { [V in TrackerVerb]: { schema: TSchema; run: (videoId: string, peerId: string, body: never) => Promise<unknown> } } = {
    [TrackerVerbs.announce]: { schema: Announce, run: announce },
    [TrackerVerbs.have]: { schema: HaveUpdate, run: haveUpdate },
    [TrackerVerbs.leave]: { schema: Leave, run: leave },
    [TrackerVerbs.report]: { schema: Report, run: report },
  };

  /** One subscription for all verbs: the subject says which video and verb, the body is checked per verb. */
  async function route(body: unknown, msg: Msg): Promise<unknown> {
    // a message delivered between unsubscribe and the mirror stopping gets a typed answer, not a crash
    if (!mirror) throw new UnavailableError(`tracker ${workerId} is stopping`);
    // the sender is the subject's last token: its NATS credential allows no other, so it is the identity
    const { videoId, verb, peerId } = parseTrackerSubject(msg.subject);
    const r = routes[verb];
    const req = validate(r.schema, body, `${verb} request`);
    served[verb] = (served[verb] ?? 0) + 1;
    const p = r.run(videoId, peerId, req as never);
    inflight.add(p);
    try {
      return await p;
    } finally {
      inflight.delete(p);
    }
  }

  return {
    workerId,
    intervalMs,
    served,
    async start() {
      mirror = await createKvMirror<SwarmPeer>(kv, parse, logger);
      await mirror.ready;
      // a lost swarm bucket is recreated empty; peers re-announce within one interval (have → unknown_session)
      guard = guardBucket({ bucket: Buckets.swarm, options: { history: 1 }, onRecreated: async () => {
        await mirror?.restart();
      } }, { nc, logger });
      sub = serve(nc, {
        subject: Subjects.trackerAll, queue: QueueGroups.tracker, schema: Type.Unknown(),
        maxBytes: MAX_TRACKER_MESSAGE_BYTES, logger, handler: route,
      });
      await nc.flush();
      timer = setInterval(() => void sweep().catch((err) => logger.warn('sweep failed', { err })), sweepIntervalMs);
      timer.unref();
      logger.info('tracker worker started', { workerId, intervalMs });
    },
    async stop() {
      // drain, not unsubscribe: the server must have forgotten this worker before stop() resolves, or requests
      // sent just after would be routed here and time out instead of going to another worker
      await sub?.drain().catch(() => sub?.unsubscribe());
      sub = null;
      guard?.stop();
      guard = null;
      if (timer) clearInterval(timer);
      timer = null;
      // let answers in progress finish before the mirror they read goes away
      await Promise.allSettled([...inflight, sweeping]);
      await mirror?.stop();
      mirror = null;
    },
    snapshot(videoId) {
      return members(videoId, clock.now()).map((p) => ({ ...p }));
    },
    sweep,
  };
}
