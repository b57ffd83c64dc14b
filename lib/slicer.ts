/**
 * Work that may wait for a later turn of the event loop, run in order, at most `budgetMs` of it per turn.
 *
 * Opening a link costs each end 2–3 ms of its event loop (the native PeerConnection, `setRemoteDescription`, the
 * link's machine). When a crowd starts, one process of 10 clients received ~45 offers within a few milliseconds
 * and, handling them as they came, held its loop for 100–155 ms in one stretch: the origin's first chunk, the
 * answers' own callbacks and every other link's messages waited behind them (bench/README.md, twelfth session).
 * Sliced, whatever else is ready (I/O, native callbacks) runs between two slices. Portable: no Node built-in.
 */
import type { Logger } from './logger.js';

export interface SlicerInit {
  /** loop time one turn may spend on queued work (default 3 ms); a task is never split, so a turn can overrun */
  budgetMs?: number;
  /** tasks waiting at most; beyond, `run` refuses (default 1024): a flood is dropped, not queued */
  maxQueued?: number;
}

export interface SlicerComponents {
  /** schedules a later turn (default `setImmediate`, else `setTimeout(fn, 0)`) */
  defer?(fn: () => void): void;
  /** a monotonic clock in ms (default `performance.now`) */
  now?(): number;
  logger: Logger;
}

export interface Slicer {
  /** queues `fn` behind the work already waiting; false (and `fn` never runs) when the queue is full */
  run(fn: () => void): boolean;
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
  let queue: Array<() => void> = [];
  let head = 0;
  let scheduled = false;

  const turn = () => {
    scheduled = false;
    const start = now();
    while (head < queue.length) {
      const fn = queue[head]!;
      queue[head++] = noop; // the task's closure is not kept alive by the queue once it ran
      try {
        fn();
      } catch (err) {
        c.logger.warn('sliced task failed', { err });
      }
      if (now() - start >= budgetMs) break;
    }
    if (head >= queue.length) {
      queue = [];
      head = 0;
      return;
    }
    if (head > 1024) {
      queue = queue.slice(head); // a queue that never drains does not grow with the tasks it ran
      head = 0;
    }
    schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    defer(turn);
  };

  return {
    run(fn) {
      if (queue.length - head >= maxQueued) return false;
      queue.push(fn);
      schedule();
      return true;
    },
    get queued() {
      return queue.length - head;
    },
    clear() {
      queue = [];
      head = 0;
    },
  };
}

function noop(): void {}
