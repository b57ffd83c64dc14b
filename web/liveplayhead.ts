/**
 * The live viewer's playhead (client/live/playhead.ts `LivePlayhead`) when a real <video> plays: the join point,
 * and the oldest segment worth fetching until playback starts, are the headless model's (the newest segment that
 * starts the mode's target latency behind now; nothing older than `maxLatencySec`); everything after that is read
 * off the element: the segment on screen (hls.js's fragment under `currentTime`; the viewer fetches nothing behind
 * it), stalls (`waiting` after playback started, not a seek's), skips (hls.js seeking forward to its live sync
 * point) and the latency behind the live edge:
 *
 *   latency = now − capture time of the frame on screen
 *           = now − (producedAt − durationSec·1000 + (currentTime − fragment start)·1000)
 *
 * where `producedAt` is when the packager had the segment complete (its clock; the same machine in tests).
 */
import { createLivePlayhead, type LivePlayhead, type PlayheadState, type PlayheadStats } from '../client/live/playhead.js';
import type { LiveMode, LiveSegment } from '../protocol/mod.js';

/** The fragment of the playlist under a media time (hls.js's level details). */
export type FragmentAt = (timeSec: number) => { seq: number; startSec: number } | null;

export interface VideoPlayhead extends LivePlayhead {
  /** the oldest seq still worth fetching: the model's while joining, then the segment on screen */
  floorSeq(view: Parameters<LivePlayhead['tick']>[0], now: number): number | null;
  /** the join point given to the viewer (null before it asked) */
  joinSeq(): number | null;
  /** the latency now (ms), null while nothing is on screen */
  latencyMs(now: number): number | null;
}

export function createVideoPlayhead(mode: Pick<LiveMode, 'targetLatencySec' | 'maxLatencySec'>, video: HTMLVideoElement,
  fragmentAt: FragmentAt, info: (seq: number) => LiveSegment | undefined): VideoPlayhead {
  const model = createLivePlayhead(mode);
  let join: number | null = null;
  let started = false;
  let stalls = 0;
  let stalledMs = 0;
  let stalledAt: number | null = null;
  let skips = 0;
  let lastTime = 0;
  let seq: number | null = null;
  let latency: number | null = null;

  video.addEventListener('playing', () => {
    started = true;
    if (stalledAt !== null) stalledMs += Date.now() - stalledAt;
    stalledAt = null;
  });
  video.addEventListener('waiting', () => {
    if (!started || video.seeking || stalledAt !== null) return;
    stalls++;
    stalledAt = Date.now();
  });
  video.addEventListener('seeking', () => {
    // a live player's jump ahead to its sync point after falling too far behind
    if (started && video.currentTime > lastTime + 1) skips++;
  });
  video.addEventListener('timeupdate', () => {
    if (!video.seeking) lastTime = video.currentTime;
  });

  /** the last fragment seen under the playhead: media time maps to capture time linearly from its start */
  let anchor: { seq: number; startSec: number; captureStart: number } | null = null;
  const measure = (now: number): number | null => {
    if (!started) return null;
    const t = video.currentTime;
    const f = fragmentAt(t);
    const seg = f ? info(f.seq) : undefined;
    if (f && seg) anchor = { seq: f.seq, startSec: f.startSec, captureStart: seg.producedAt - seg.durationSec * 1000 };
    if (!anchor) return latency;
    seq = f && seg ? f.seq : anchor.seq;
    // stalled at the end of the buffer (no fragment under it yet): the capture time stands still, latency grows
    latency = Math.round(now - (anchor.captureStart + (t - anchor.startSec) * 1000));
    return latency;
  };
  const state = (): PlayheadState => {
    if (video.ended) return 'ended';
    if (!started) return 'joining';
    return stalledAt !== null ? 'stalled' : 'playing';
  };
  const stats = (): PlayheadStats => ({ state: state(), seq, stalls,
    stalledMs: stalledMs + (stalledAt !== null ? Date.now() - stalledAt : 0), skips, latencyMs: latency });

  return {
    startSeq(view, now) {
      join = model.startSeq(view, now);
      return join;
    },
    floorSeq(view, now) {
      return started && seq !== null ? seq : model.floorSeq(view, now);
    },
    tick(_view, now) {
      measure(now);
      return stats();
    },
    stats,
    joinSeq: () => join,
    latencyMs: measure,
  };
}
