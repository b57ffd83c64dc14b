/**
 * Work that may wait for a later turn of the event loop, run in order, at most `budgetMs` of it per turn.
 *
 * Opening a link costs each end 2–3 ms of its event loop (the native PeerConnection, `setRemoteDescription`, the
 * link's machine). When a crowd starts, one process of 10 clients received ~45 offers within a few milliseconds
 * and, handling them as they came, held its loop for 100–155 ms in one stretch: the origin's first chunk, the
 * answers' own callbacks and every other link's messages waited behind them (bench/README.md, twelfth session).
 * Sliced, whatever else is ready (I/O, native callbacks) runs between two slices. Portable: no Node built-in.
 *
 * Lanes: a task goes in a lane, and a turn takes from the first lane that has work, in order within it. A link's
 * set-up uses three: work that completes a link already begun (an answer to our offer) before work that accepts
 * one (a remote's offer) before work that begins one (our own offers), so that under a burst the links that are
 * nearly open open first instead of queueing behind new ones.
 */
import type { Logger } from './logger.js';

export interface SlicerInit {
  /** loop time one turn may spend on queued work (default 3 ms); a task is never split, so a turn can overrun */
  budgetMs?: number;
  /** tasks waiting at most, all lanes together; beyond, `run` refuses (default 1024): a flood is dropped, not queued */
  maxQueued?: number;
  /** lanes (default 1); lane 0 goes first */
  lanes?: number;
}

export interface SlicerComponents {
  /** schedules a later turn (default `setImmediate`, else `setTimeout(fn, 0)`) */
  defer?(fn: () => void): void;
  /** a monotonic clock in ms (default `performance.now`) */
  now?(): number;
  logger: Logger;
}

export interface Slicer {
  /**
   * queues `fn` behind the work already waiting in its lane (default the last; one past the last counts as the
   * last); false (and `fn` never runs) when the queue is full
   */
  run(fn: () => void, lane?: number): boolean;
  /** tasks waiting */
  readonly queued: number;
  /** drops every waiting task (they never run) */
  clear(): void;
}

const defaultDefer = (fn: () => void): void => {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  if (g.setImmediate) g.setImmediate(fn);
  else setTimeout(fn, 0);
};

export function createSlicer(init: SlicerInit, c: SlicerComponents): Slicer {
  const budgetMs = init.budgetMs ?? 3;
  const maxQueued = init.maxQueued ?? 1024;
  const defer = c.defer ?? defaultDefer;
  const now = c.now ?? (() => performance.now());
  /** one FIFO per lane: its tasks, and the index of the next to run */
  const lanes = Array.from({ length: Math.max(1, init.lanes ?? 1) }, () => ({ queue: [] as Array<() => void>, head: 0 }));
  let waiting = 0;
  let scheduled = false;

  const nextLane = () => lanes.find((l) => l.head < l.queue.length);
  const turn = () => {
    scheduled = false;
    const start = now();
    for (let l = nextLane(); l; l = nextLane()) {
      const fn = l.queue[l.head]!;
      l.queue[l.head++] = noop; // the task's closure is not kept alive by the queue once it ran
      waiting--;
      try {
        fn();
      } catch (err) {
        c.logger.warn('sliced task failed', { err });
      }
      if (now() - start >= budgetMs) break;
    }
    for (const l of lanes) {
      if (l.head >= l.queue.length) {
        l.queue = [];
        l.head = 0;
      } else if (l.head > 1024) {
        l.queue = l.queue.slice(l.head); // a queue that never drains does not grow with the tasks it ran
        l.head = 0;
      }
    }
    if (waiting > 0) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    defer(turn);
  };

  return {
    run(fn, lane = lanes.length - 1) {
      if (waiting >= maxQueued) return false;
      lanes[Math.min(Math.max(0, Math.floor(lane)), lanes.length - 1)]!.queue.push(fn);
      waiting++;
      schedule();
      return true;
    },
    get queued() {
      return waiting;
    },
    clear() {
      for (const l of lanes) {
        l.queue = [];
        l.head = 0;
      }
      waiting = 0;
    },
  };
}

function noop(): void {}
