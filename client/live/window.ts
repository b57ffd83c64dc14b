/**
 * A live viewer's copy of its stream's window: extended by each announced segment that follows its edge, and
 * asked of the origin again when one is missing. NATS delivers an announcement at most once: a missed one (a
 * reconnect, a slow consumer, the moment between subscribing and the first window) is a segment the viewer would
 * never fetch, and playback stops at the hole.
 */
import { appendSegment, type LiveSegment, type LiveWindow } from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { LiveFeed } from './feed.js';

/** least time between two window requests made to fill a gap */
export const WINDOW_REFRESH_REST_MS = 1000;

export interface LiveWindowCopy {
  /** the window (null before the first) */
  get(): LiveWindow | null;
  /** the first window, from the viewer's join */
  set(w: LiveWindow): void;
  /** appends the known segments after the edge; asks the origin for the window when the next one is unknown */
  extend(): void;
  stop(): void;
}

export interface LiveWindowCopyComponents {
  feed: Pick<LiveFeed, 'window'>;
  clock: Clock;
  logger: Logger;
  /** a segment the viewer has learnt (announced, or from a window) */
  known(seq: number): LiveSegment | undefined;
  /** the newest segment the viewer has learnt */
  edge(): number | null;
  /** the segments of a refreshed window, to learn */
  learn(segments: readonly LiveSegment[]): void;
}

export function createLiveWindowCopy(c: LiveWindowCopyComponents): LiveWindowCopy {
  let win: LiveWindow | null = null;
  let refreshing = false;
  let refreshedAt = -Infinity;
  let stopped = false;

  const lastSeq = (w: LiveWindow | null) => w?.segments.at(-1)?.seq ?? -1;

  const refresh = () => {
    // the origin hears announcements too, maybe later than this viewer: a gap it does not fill yet is asked
    // about again at a later announcement, not in a loop
    if (refreshing || stopped || c.clock.now() - refreshedAt < WINDOW_REFRESH_REST_MS) return;
    refreshing = true;
    refreshedAt = c.clock.now();
    c.feed.window().then((w) => {
      refreshing = false;
      if (stopped) return;
      c.learn(w.segments);
      if (lastSeq(w) >= lastSeq(win)) win = w;
      extend();
    }, (err: unknown) => {
      refreshing = false;
      c.logger.warn('could not ask for the live window after a missed announcement', { err });
    });
  };

  const extend = () => {
    if (!win || win.ended) return;
    for (let next = c.known(lastSeq(win) + 1); next; next = c.known(lastSeq(win) + 1)) {
      try {
        win = appendSegment(win, next);
      } catch {
        return;
      }
    }
    const edge = c.edge();
    if (edge !== null && edge > lastSeq(win)) refresh();
  };

  return {
    get: () => win,
    set(w) {
      win = w;
    },
    extend,
    stop() {
      stopped = true;
    },
  };
}
