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
import { Type } from '@sinclair/typebox';
import {
  Announce, BadRequestError, bitfieldBytes, fromBase64, HaveUpdate, Leave, MAX_TRACKER_MESSAGE_BYTES,
  parseTrackerSubject, QueueGroups, Report, setBit, Subjects, toBase64, TrackerVerbs, UnavailableError, UnknownSessionError, validate,
  type AnnounceReply, type OkReply, type TrackerVerb,
} from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import {
  BucketSpecs, createKvStore, guardBucket, JITTERED_RETRY, openBucket, sweepExpired, type BucketGuard,
  type BucketOverrides, type KvStore, type MirrorHealth,
} from '../../lib/kv/mod.js';
import type { Logger } from '../../lib/logger.js';
import { createInflight, leaveQueueGroups, serve, type Msg, type NatsConnection, type Subscription } from '../../lib/nats.js';
import { openLinkBook, type LinkBook } from '../signal/links.js';
import { decodeAnnouncedBits, joinedAfter, swarmCodec, swarmKey, type SwarmPeer } from './records.js';
import { availability, popcount, rankPeers, type ScoreCandidate } from './score.js';

export { decodeAnnouncedBits, SwarmPeer } from './records.js';

export interface TrackerInit {
  /** re-announce interval told to peers, ms (default 5000, ≥ 100); stale after 3 × this */
  intervalMs?: number;
  /** how often this worker deletes stale entries, ms (default intervalMs) */
  sweepIntervalMs?: number;
  /** name for logs */
  workerId?: string;
  /** bucket overrides of this deployment (replicas), used when this worker creates `sy_swarm` */
  bucket?: BucketOverrides;
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
  /** the swarm mirror's health (watch restarts, staleness, skipped entries) */
  health(): MirrorHealth;
}

export const TRACKER_DEFAULTS = { intervalMs: 5000, want: 20, staleFactor: 3 } as const;
/** cap on the report list: two distinct reporters already ban; the rest is evidence for operators */
export const MAX_REPORTS = 64;

export async function createTracker(init: TrackerInit, components: TrackerComponents): Promise<Tracker> {
  const { nc, clock, logger } = components;
  const intervalMs = init.intervalMs ?? TRACKER_DEFAULTS.intervalMs;
  if (!Number.isInteger(intervalMs) || intervalMs < 100) throw new TypeError('intervalMs must be an integer ≥ 100');
  const sweepIntervalMs = init.sweepIntervalMs ?? intervalMs;
  if (!(sweepIntervalMs > 0)) throw new TypeError('sweepIntervalMs must be > 0');
  const staleMs = TRACKER_DEFAULTS.staleFactor * intervalMs;
  const workerId = init.workerId ?? `tracker-${process.pid}`;
  const kv = await openBucket(nc, BucketSpecs.swarm, init.bucket);
  const links = components.links ?? (await openLinkBook(nc, init.bucket ? { bucket: init.bucket } : {}));

  let store: KvStore<SwarmPeer> | null = null;
  let guard: BucketGuard | null = null;
  let sub: Subscription | null = null;
  let timer: NodeJS.Timeout | null = null;
  let sweeping: Promise<void> | null = null;
  const inflight = createInflight();
  const served: Record<string, number> = {};

  const state = () => {
    if (!store) throw new Error('tracker not started');
    return store;
  };

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
   * Compare-and-set loop (lib/kv/store.ts): `next` computes the new record from the current one; returning
   * undefined means "no write". Writes of one key queue in this worker, conflicts between workers are retried
   * with a jittered backoff, so no update is lost.
   */
  const mutate = (key: string, next: (cur: SwarmPeer | null) => SwarmPeer | undefined) =>
    state().mutate(key, next, JITTERED_RETRY);

  /** Fresh members of one video with the same chunk count as `chunkCount` (when given). */
  function members(videoId: string, now: number, chunkCount?: number): SwarmPeer[] {
    const prefix = `${videoId}.`;
    const out: SwarmPeer[] = [];
    for (const [key, e] of state().mirror.entries) {
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
        uploadBps: a.uploadBps, complete: have === a.chunkCount, lastSeen: now, joinedAt: cur?.joinedAt ?? now,
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
    const byId = new Map(sources.map((p) => [p.peerId, p]));
    for (const l of peers) {
      const other = byId.get(l.peerId);
      if (other) l.offer = joinedAfter(self, other);
    }
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
    await state().removeIf(swarmKey(videoId, peerId), () => true, { policy: JITTERED_RETRY });
    return { ok: true };
  }

  async function report(videoId: string, peerId: string, r: Report): Promise<OkReply> {
    if (r.offender === peerId) throw new BadRequestError('a peer cannot report itself');
    // Only members may report: otherwise anyone could invent two reporter ids and ban any peer for free.
    const reporterKey = swarmKey(videoId, peerId);
    const reporter = await state().get(reporterKey);
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
    // the expiry is asked again of the bucket's current value after a conflict: a re-announce elsewhere wins
    const removed = await sweepExpired(state(), {
      expired: (p) => !isFresh(p, clock.now()), policy: JITTERED_RETRY, logger,
    });
    for (const e of removed) logger.debug('stale peer dropped', { key: e.key });
  }

  function sweep(): Promise<void> {
    sweeping ??= sweepOnce().finally(() => (sweeping = null));
    return sweeping;
  }

  /** Checks the body against its verb's schema and runs the verb: each case validates into its own type. */
  function run(verb: TrackerVerb, videoId: string, peerId: string, body: unknown): Promise<unknown> {
    const what = `${verb} request`;
    switch (verb) {
      case TrackerVerbs.announce:
        return announce(videoId, peerId, validate(Announce, body, what));
      case TrackerVerbs.have:
        return haveUpdate(videoId, peerId, validate(HaveUpdate, body, what));
      case TrackerVerbs.leave:
        return leave(videoId, peerId, validate(Leave, body, what));
      case TrackerVerbs.report:
        return report(videoId, peerId, validate(Report, body, what));
    }
  }

  /** One subscription for all verbs: the subject says which video and verb, the body is checked per verb. */
  async function route(body: unknown, msg: Msg): Promise<unknown> {
    // a message delivered between unsubscribe and the mirror stopping gets a typed answer, not a crash
    if (!store) throw new UnavailableError(`tracker ${workerId} is stopping`);
    // the sender is the subject's last token: its NATS credential allows no other, so it is the identity
    const { videoId, verb, peerId } = parseTrackerSubject(msg.subject);
    served[verb] = (served[verb] ?? 0) + 1;
    return run(verb, videoId, peerId, body);
  }

  return {
    workerId,
    intervalMs,
    served,
    async start() {
      store = createKvStore({ kv, codec: swarmCodec }, { logger });
      await store.start();
      // a lost swarm bucket is recreated empty; peers re-announce within one interval (have → unknown_session)
      guard = guardBucket({ spec: BucketSpecs.swarm, ...(init.bucket ? { overrides: init.bucket } : {}),
        onRecreated: async () => {
          await store?.mirror.restart();
        } }, { nc, logger });
      sub = serve(nc, {
        subject: Subjects.trackerAll, queue: QueueGroups.tracker, schema: Type.Unknown(),
        maxBytes: MAX_TRACKER_MESSAGE_BYTES, logger, inflight, handler: route,
      });
      await nc.flush();
      timer = setInterval(() => void sweep().catch((err) => logger.warn('sweep failed', { err })), sweepIntervalMs);
      timer.unref();
      logger.info('tracker worker started', { workerId, intervalMs });
    },
    async stop() {
      // drained, not unsubscribed: the server must have forgotten this worker before stop() resolves, or requests
      // sent just after would be routed here and time out instead of going to another worker; answers in
      // progress finish before the mirror they read goes away
      await leaveQueueGroups(sub ? [sub] : [], inflight, logger);
      sub = null;
      guard?.stop();
      guard = null;
      if (timer) clearInterval(timer);
      timer = null;
      await Promise.allSettled([sweeping]); // its failure was logged by whoever started it
      await store?.stop();
      store = null;
    },
    snapshot(videoId) {
      return members(videoId, clock.now()).map((p) => ({ ...p }));
    },
    sweep,
    health: () => state().mirror.health(),
  };
}
