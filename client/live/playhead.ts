/**
 * A headless player's playhead over a live stream: where a viewer that plays in real time would be, so the
 * headless client and the benchmark count what a person watching would see. It starts `targetLatencySec` behind
 * the edge, plays each segment for its duration, stalls when the next one is not verified in time (a stall is a
 * buffer that ran empty), and skips ahead to the target when it fell more than `maxLatencySec` behind. Pure: the
 * caller passes the clock and what is held.
 *
 * Latency behind the edge = now − the capture time of the frame on screen, where a segment's capture ends at its
 * `producedAt` (the packager's clock: same machine in tests and benchmarks; across machines it includes skew).
 */
import type { LiveMode, LiveSegment } from '../../protocol/mod.js';

export interface PlayheadView {
  /** the segment `seq` as announced (known), or undefined */
  info(seq: number): LiveSegment | undefined;
  held(seq: number): boolean;
  /** newest announced seq */
  edge(): number | null;
  /** last seq of an ended stream, else null */
  lastSeq(): number | null;
  /** the first seq the viewer fetches (its join point): playback never starts before it */
  firstSeq(): number;
}

export type PlayheadState = 'joining' | 'playing' | 'stalled' | 'ended';

export interface PlayheadStats {
  state: PlayheadState;
  /** the segment on screen */
  seq: number | null;
  stalls: number;
  stalledMs: number;
  skips: number;
  /** current latency behind the edge, ms (null before playing) */
  latencyMs: number | null;
}

export interface LivePlayhead {
  /** the first seq the viewer should fetch to start at the target latency */
  startSeq(view: PlayheadView, now: number): number | null;
  /** the oldest seq still worth fetching: the segment on screen while playing; null while joining */
  floorSeq(view: PlayheadView, now: number): number | null;
  /** advances to `now` */
  tick(view: PlayheadView, now: number): PlayheadStats;
  stats(): PlayheadStats;
}

export function createLivePlayhead(mode: Pick<LiveMode, 'targetLatencySec' | 'maxLatencySec'>): LivePlayhead {
  let state: PlayheadState = 'joining';
  let seq: number | null = null;
  /** wall time at which the current segment's first frame was (or would have been) shown */
  let segStart = 0;
  let stalls = 0;
  let stalledMs = 0;
  let stalledAt = 0;
  let skips = 0;
  let latencyMs: number | null = null;

  const captureStart = (s: LiveSegment) => s.producedAt - s.durationSec * 1000;
  /** the newest seq whose start lies at least the target behind `now` */
  const targetSeq = (view: PlayheadView, now: number): number | null => {
    const edge = view.edge();
    if (edge === null) return null;
    for (let s = edge; s >= 0; s--) {
      const i = view.info(s);
      if (!i) return Math.min(s + 1, edge);
      if (now - captureStart(i) >= mode.targetLatencySec * 1000) return s;
    }
    return 0;
  };
  const snapshot = (): PlayheadStats => ({ state, seq, stalls, stalledMs, skips, latencyMs });
  /** the oldest announced seq whose capture started at most `maxLatencySec` ago */
  const oldestFresh = (view: PlayheadView, now: number): number | null => {
    const edge = view.edge();
    if (edge === null) return null;
    let oldest = edge;
    for (let s = edge - 1; s >= 0; s--) {
      const i = view.info(s);
      if (!i || now - captureStart(i) > mode.maxLatencySec * 1000) break;
      oldest = s;
    }
    return oldest;
  };
  /** where to start: the target segment if held, else the newest held one no older than `maxLatencySec` */
  const startAt = (view: PlayheadView, now: number): number | null => {
    const target = targetSeq(view, now);
    const oldest = oldestFresh(view, now);
    if (target === null || oldest === null) return null;
    // on a buffer, not a single segment: everything from it to just behind the edge (a player that starts with
    // one segment buffered stalls at the first late one)
    const edge = view.edge()!;
    const first = Math.max(oldest, view.firstSeq());
    const buffered = (s: number) => {
      for (let x = s; x <= Math.max(s, edge - 1); x++) if (!view.held(x)) return false;
      return true;
    };
    for (let s = target; s >= first; s--) if (buffered(s)) return s;
    return null;
  };

  return {
    startSeq: targetSeq,
    floorSeq: () => (state === 'joining' ? null : seq),
    stats: snapshot,
    tick(view, now) {
      if (state === 'ended') return snapshot();
      if (state === 'joining') {
        const s = startAt(view, now);
        if (s === null) return snapshot();
        seq = s;
        segStart = now;
        state = 'playing';
      }
      for (let guard = 0; guard < 1000; guard++) {
        const cur = view.info(seq!);
        if (!cur) break;
        if (state === 'stalled') {
          latencyMs = Math.round(now - cur.producedAt);
          if (view.held(seq! + 1)) {
            stalledMs += now - stalledAt;
            seq = seq! + 1;
            segStart = now;
            state = 'playing';
            continue;
          }
          break;
        }
        const end = segStart + cur.durationSec * 1000;
        latencyMs = Math.round(now - (captureStart(cur) + Math.min(now, end) - segStart));
        if (now < end) break;
        const last = view.lastSeq();
        if (last !== null && seq! >= last) {
          state = 'ended';
          break;
        }
        if (view.held(seq! + 1)) {
          seq = seq! + 1;
          segStart = end;
        } else {
          state = 'stalled';
          stalls++;
          stalledAt = end;
        }
      }
      // fell too far behind (long stalls): skip to the target, as a live player seeks to its sync point
      if (latencyMs !== null && latencyMs > mode.maxLatencySec * 1000) {
        const s = startAt(view, now);
        if (s !== null && s > seq!) {
          if (state === 'stalled') stalledMs += now - stalledAt;
          seq = s;
          segStart = now;
          state = 'playing';
          skips++;
        }
      }
      return snapshot();
    },
  };
}
