/**
 * The live viewer engine, shared by the headless client and the browser (only transports, hashing and the
 * player differ): joins a stream at its window, hears each new segment announced, fetches it from the origin
 * while the session holds a slot, else part by part from peers that announced the parts (push-style `have`s over
 * the data channels; a part is relayed as soon as it is verified, so segments pipeline through the swarm), else,
 * once it has waited `peerWaitMs`, from the origin's urgent share. Every part and segment is checked against the
 * announced SHA-256 before it is kept, played or relayed; a peer that sent a wrong one is banned.
 */
import {
  fromBase64, LIVE_CHUNK_SPACE, LIVE_INDEX_SPACE, LIVE_PARTS, liveIndex, livePartRange, segmentInWindow,
  type LiveEnd, type LiveSegment,
} from '../../protocol/mod.js';
import { FetchFailure } from '../http.js';
import type { Swarm, SwarmEvent } from '../p2p/swarm.js';
import { createPeerPicker } from './picker.js';
import { createLivePlayhead, type PlayheadView } from './playhead.js';
import { createLiveSegmentStore, type LiveSegmentStore } from './segments.js';
import { createLiveWindowCopy } from './window.js';
import type { LiveSource, LiveViewer, LiveViewerComponents, LiveViewerEvent, LiveViewerInit } from './types.js';

export type { LiveSource, LiveViewer, LiveViewerComponents, LiveViewerEvent, LiveViewerInit, LiveViewerStats } from './types.js';

const MAX_LATENCY_SAMPLES = 100_000;
/** a segment the player needs within this long is fetched before fresher ones */
const URGENT_SLACK_MS = 1500;
/** parts an admitted viewer has in flight from the origin: one arriving, one queued behind it */
const ORIGIN_PARTS_IN_FLIGHT = 2;
/** announcements kept while the window is on the way (a few seconds of segments; the window has the rest) */
const MAX_HEARD_EARLY = 64;
/** how long a peer that refused us (overloaded, choked) or timed out rests before we ask it again */
const BUSY_REST_MS = 100;

export function createLiveViewer(init: LiveViewerInit, c: LiveViewerComponents): LiveViewer {
  const log = c.logger;
  const perPeer = init.perPeer ?? 2;
  const useOrigin = init.origin !== false;
  const known = new Map<number, LiveSegment>();
  /** whole-segment fetches from the origin, by seq */
  const inflight = new Map<number, LiveSource>();
  /** part fetches from peers, by part index */
  const partsInflight = new Set<number>();
  const listeners = new Set<(e: LiveViewerEvent) => void>();
  const bySource: Record<LiveSource, number> = { origin: 0, urgent: 0, peer: 0 };
  const latencies: number[] = [];
  let initBytes: Uint8Array | null = null;
  let store: LiveSegmentStore | null = null;
  let swarm: Swarm | null = null;
  let fromSeq = 0;
  let edge: number | null = null;
  let end: LiveEnd | null = null;
  let verified = 0;
  let corrupt = 0;
  let stopped = false;
  let urgentUntil = 0;
  let timer: ReturnType<typeof setInterval> | null = null;
  const unsubs: Array<() => void> = [];
  const playhead = c.playhead ?? createLivePlayhead(init.mode);
  let originParts = 0;
  const picker = createPeerPicker({ perPeer });
  /** joined: the swarm is up and the starting point chosen */
  let ready = false;
  /** the edge when the viewer joined: where fetching, and so playback, starts */
  let joinSeq = Number.MAX_SAFE_INTEGER;

  const emit = (e: LiveViewerEvent) => {
    for (const l of listeners) {
      try {
        l(e);
      } catch (err) {
        log.warn('live listener failed', { err });
      }
    }
  };
  const view: PlayheadView = {
    info: (s) => known.get(s),
    held: (s) => store?.hasSegment(s) ?? false,
    edge: () => edge,
    lastSeq: () => end?.lastSeq ?? null,
    firstSeq: () => joinSeq,
  };
  const windowCopy = createLiveWindowCopy({ feed: c.feed, clock: c.clock, logger: log, known: (seq) => known.get(seq),
    // a lost last announcement shows in the end's lastSeq
    edge: () => (end && (edge === null || end.lastSeq > edge) ? end.lastSeq : edge), learn: (segments) => {
      for (const s of segments) learn(s);
      pump();
    } });
  const learn = (s: LiveSegment) => {
    if (known.has(s.seq) || s.seq >= LIVE_INDEX_SPACE) return;
    known.set(s.seq, s);
    if (edge === null || s.seq > edge) edge = s.seq;
    // forget what slid far out of the window (bounded by the window's length, as the store is)
    const keepMs = (windowCopy.get()?.dvrSec ?? 60) * 1000 + 30_000;
    for (const [seq, k] of known) if (s.producedAt - k.producedAt > keepMs) known.delete(seq);
  };

  const completed = (seg: LiveSegment, source: LiveSource, peerId?: string) => {
    verified++;
    const latencyMs = c.clock.now() - seg.producedAt;
    if (latencies.length < MAX_LATENCY_SAMPLES) latencies.push(latencyMs);
    emit({ type: 'segment.verified', seq: seg.seq, source, ...(peerId ? { peerId } : {}), latencyMs, bytes: seg.length });
  };
  const rejectFrom = (seg: LiveSegment, source: LiveSource, peerId?: string) => {
    corrupt++;
    emit({ type: 'segment.corrupt', seq: seg.seq, source, ...(peerId ? { peerId } : {}) });
    if (peerId) swarm?.ban(peerId, `corrupt live segment ${seg.seq}`);
    else log.warn('the origin sent a live segment that does not match its announcement', { seq: seg.seq });
  };

  /** a whole segment from the origin (slot or urgent share) */
  const acceptSegment = async (seg: LiveSegment, data: Uint8Array, source: LiveSource): Promise<void> => {
    if (data.byteLength !== seg.length || (await c.sha256(data)) !== seg.sha256) return rejectFrom(seg, source);
    if (stopped || store!.hasSegment(seg.seq)) return;
    const had = new Array(LIVE_PARTS).fill(false).map((_, k) => store!.hasPart(seg.seq, k));
    store!.putSegment(seg, data);
    for (let k = 0; k < LIVE_PARTS; k++) {
      if (had[k]) continue;
      bySource[source] += livePartRange(seg.length, k).length;
      swarm?.noteHave(liveIndex(seg.seq, k));
    }
    completed(seg, source);
  };

  /** one part (from a peer, or a Range of the origin's segment), checked against the announced part hash */
  const acceptPart = async (seg: LiveSegment, k: number, data: Uint8Array, source: LiveSource, peerId?: string): Promise<void> => {
    const r = livePartRange(seg.length, k);
    if (data.byteLength !== r.length || (await c.sha256(data)) !== seg.parts[k]) return rejectFrom(seg, source, peerId);
    if (stopped || store!.hasPart(seg.seq, k)) return;
    const done = store!.putPart(seg, k, data);
    bySource[source] += data.byteLength;
    swarm?.noteHave(liveIndex(seg.seq, k));
    if (!done) return;
    // every part matched its hash; the whole must match too (it does unless the announcement lied to itself)
    if ((await c.sha256(store!.segment(seg.seq)!)) !== seg.sha256) return rejectFrom(seg, source);
    completed(seg, source, peerId);
  };

  const httpGet = async (url: string, range?: { offset: number; length: number }): Promise<Uint8Array> => {
    const res = await c.fetch(url, range ? { headers: { range: `bytes=${range.offset}-${range.offset + range.length - 1}` } } : {});
    if (!res.ok) {
      const body = await res.json().catch(() => null) as { error?: { code?: string } } | null;
      const err = new Error(`HTTP ${res.status} ${body?.error?.code ?? ''}`) as Error & { code?: string; status?: number };
      err.code = body?.error?.code;
      err.status = res.status;
      throw err;
    }
    return new Uint8Array(await res.arrayBuffer());
  };
  const segmentUrl = (seq: number, grant: string) =>
    `${init.gatewayUrl}/live/${encodeURIComponent(init.streamId)}/segments/${seq}?grant=${encodeURIComponent(grant)}`;

  /** one part of a segment from the origin under the slot grant (a Range), relayed as soon as it verifies */
  const fetchOriginPart = (seg: LiveSegment, k: number, grant: string) => {
    const index = liveIndex(seg.seq, k);
    partsInflight.add(index);
    originParts++;
    void httpGet(segmentUrl(seg.seq, grant), livePartRange(seg.length, k))
      .then((data) => acceptPart(seg, k, data, 'origin'))
      .catch((err: Error & { code?: string }) => {
        if (err.code === 'lease_lost' || err.code === 'grant_expired') c.session.lost();
        log.debug('origin part fetch failed', { seq: seg.seq, part: k, err: err.message });
      })
      .finally(() => {
        originParts--;
        partsInflight.delete(index);
        pump();
      });
  };
  const fetchUrgent = (seg: LiveSegment, sessionId: string) => {
    inflight.set(seg.seq, 'urgent');
    void (async () => {
      const g = await c.origin.urgent(sessionId, init.peerId, init.streamId, [seg.seq]);
      await acceptSegment(seg, await httpGet(segmentUrl(seg.seq, g.grant)), 'urgent');
    })().catch((err: Error & { code?: string }) => {
      // refused or the share is spent: peers only for a moment, so a flood of viewers cannot hammer the origin
      urgentUntil = c.clock.now() + 1000;
      log.debug('urgent segment fetch failed', { seq: seg.seq, code: err.code, err: err.message });
    }).finally(() => done(seg.seq));
  };
  const fetchPart = (seg: LiveSegment, k: number, peerId: string) => {
    const index = liveIndex(seg.seq, k);
    partsInflight.add(index);
    picker.started(peerId);
    void swarm!.request(peerId, index)
      .then((data) => acceptPart(seg, k, data, 'peer', peerId))
      .catch((err: Error) => {
        // only "not have" says something about the part; overloaded/choked/timeouts are about the peer, now
        if (err instanceof FetchFailure && err.reason === 'missing') picker.forget(peerId, index);
        else picker.rest(peerId, c.clock.now() + BUSY_REST_MS);
        log.debug('peer part fetch failed', { seq: seg.seq, part: k, peer: peerId, err: err.message });
      })
      .finally(() => {
        picker.ended(peerId);
        partsInflight.delete(index);
        pump();
      });
  };
  const done = (seq: number) => {
    inflight.delete(seq);
    pump();
  };
  /**
   * The order segments are asked for: those the player needs within URGENT_SLACK_MS first, oldest first (its
   * deadline order); then the rest newest first, since the freshest parts are what the swarm relays onwards and
   * what every neighbour will ask this viewer for next.
   */
  const fetchOrder = (now: number): number[] => {
    const soon: number[] = [];
    const later: number[] = [];
    for (let seq = fromSeq; seq <= edge!; seq++) {
      const seg = known.get(seq);
      if (!seg) continue;
      const due = seg.producedAt - seg.durationSec * 1000 + init.mode.targetLatencySec * 1000;
      (due - now < URGENT_SLACK_MS ? soon : later).push(seq);
    }
    return [...soon, ...later.reverse()];
  };

  /** Starts every fetch that is due: oldest needed first (the playhead's deadline order). */
  const pump = () => {
    if (stopped || !ready || !store || !swarm || edge === null) return;
    const now = c.clock.now();
    const grant = useOrigin ? c.session.grant() : null;
    // nothing behind the playhead is needed any more (it skipped, or it is past it), nor, while joining, anything
    // too old to be played
    const floor = playhead.floorSeq(view, now);
    if (floor !== null && floor > fromSeq) fromSeq = floor;
    // With a slot: the parts no peer announced yet, newest first, from the origin, two in flight. An admitted
    // viewer is where the swarm gets the edge: it relays its first part a fraction of a second after the
    // announcement, and the origin sends each part about once (what a peer already has comes from the peer), so
    // its bandwidth is never all spoken for and a backlog drains.
    if (grant) {
      for (let seq = edge; seq >= fromSeq && originParts < ORIGIN_PARTS_IN_FLIGHT; seq--) {
        const seg = known.get(seq);
        if (!seg || store.hasSegment(seq) || inflight.has(seq)) continue;
        for (const k of picker.rarestFirst(seq)) {
          if (originParts >= ORIGIN_PARTS_IN_FLIGHT) break;
          if (store.hasPart(seq, k) || partsInflight.has(liveIndex(seq, k))) continue;
          // already in the swarm: a peer's copy, and the origin's bandwidth goes to what nobody has yet
          if (picker.holders(liveIndex(seq, k)) > 0) continue;
          fetchOriginPart(seg, k, grant);
        }
      }
    }
    for (const seq of fetchOrder(now)) {
      if (store.hasSegment(seq) || inflight.has(seq)) continue;
      const seg = known.get(seq);
      if (!seg) continue;
      let fromPeers = false;
      for (const k of picker.rarestFirst(seq)) {
        const index = liveIndex(seq, k);
        if (store.hasPart(seq, k)) continue;
        if (partsInflight.has(index)) {
          fromPeers = true;
          continue;
        }
        const peer = picker.peerFor(index, now);
        if (!peer) continue;
        fetchPart(seg, k, peer);
        fromPeers = true;
      }
      const sessionId = c.session.sessionId();
      if (!fromPeers && !grant && useOrigin && sessionId && now >= urgentUntil && now - seg.producedAt >= init.mode.peerWaitMs) {
        fetchUrgent(seg, sessionId);
      }
    }
  };

  /** a new segment announced by the packager: learnt, and the window extended */
  const onAnnounced = (s: LiveSegment) => {
    learn(s);
    windowCopy.extend();
    pump();
  };

  const onSwarm = (e: SwarmEvent) => {
    // bounded: what slid out of the window is of no use
    picker.prune(liveIndex(fromSeq, 0), LIVE_PARTS * (2 * (windowCopy.get()?.segments.length ?? 60) + 16));
    picker.note(e);
    pump();
  };

  const api: LiveViewer = {
    streamId: init.streamId,
    get swarm() {
      if (!swarm) throw new Error('the viewer has not started');
      return swarm;
    },
    async start() {
      // subscribed before the window is asked for: an announcement made while the reply (and the init segment's
      // hash) is on the way is heard, not lost between the two (a lost one left a hole playback never passed)
      const heard: LiveSegment[] = [];
      unsubs.push(c.feed.subscribe({
        segment: (s) => {
          if (!windowCopy.get()) {
            if (heard.length < MAX_HEARD_EARLY) heard.push(s);
            return;
          }
          onAnnounced(s);
        },
        end: (e) => {
          end = e;
          windowCopy.extend();
          emit({ type: 'ended', end: e });
        },
      }));
      const w = await c.feed.window();
      const initData = fromBase64(w.initData);
      if (!initData || initData.byteLength !== w.init.length || (await c.sha256(initData)) !== w.init.sha256) {
        throw new Error(`the init segment of ${init.streamId} does not match its hash`);
      }
      initBytes = initData;
      windowCopy.set(w);
      for (const s of w.segments) learn(s);
      if (w.ended) end ??= { streamId: w.streamId, lastSeq: edge ?? -1, ...(w.ended.videoId ? { videoId: w.ended.videoId } : {}) };
      store = createLiveSegmentStore({ keepSec: w.dvrSec + 10 });
      for (const s of heard.splice(0)) onAnnounced(s);
      // nothing is fetched before the swarm is up (below): then from the edge as it is at that moment
      const lengthOf = (i: number) => {
        const seg = known.get(Math.floor(i / LIVE_PARTS));
        return seg ? livePartRange(seg.length, i % LIVE_PARTS).length : undefined;
      };
      swarm = c.swarm({ rootHash: w.rootHash, chunkCount: LIVE_CHUNK_SPACE, chunkLength: lengthOf }, store);
      unsubs.push(swarm.subscribe(onSwarm));
      c.session.onChange(() => pump());
      if (useOrigin) await c.session.start();
      await swarm.start();
      // a viewer joins at the live edge: a backlog fetched at join would never be caught up when the bandwidth is
      // just enough (the playhead starts once a segment it holds is old enough for the target latency)
      fromSeq = edge ?? 0;
      joinSeq = fromSeq;
      ready = true;
      timer = setInterval(() => {
        playhead.tick(view, c.clock.now());
        pump();
      }, 100);
      pump();
      return w;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      windowCopy.stop();
      if (timer) clearInterval(timer);
      for (const u of unsubs.splice(0)) u();
      await c.session.stop();
      await swarm?.stop();
    },
    on(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    init() {
      if (!initBytes) throw new Error('the viewer has not started');
      return initBytes;
    },
    window() {
      const w = windowCopy.get();
      if (!w) throw new Error('the viewer has not started');
      return w;
    },
    info: (seq) => {
      const w = windowCopy.get();
      return known.get(seq) ?? (w ? segmentInWindow(w, seq) : undefined);
    },
    segment: (seq) => store?.segment(seq),
    held: () => store?.seqs() ?? [],
    ended: () => end,
    stats: () => ({ bySource: { ...bySource }, verified, corrupt, latenciesMs: [...latencies],
      admitted: c.session.grant() !== null, playhead: playhead.stats(), held: store?.seqs().length ?? 0 }),
  };
  return api;
}
