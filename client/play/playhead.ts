/**
 * Which chunk the download should treat as the playhead when several reads wait at once. A player often has more
 * than one request open (Chromium reads an MP4's tail before its head; ffprobe and a decoder may read the same
 * playlist side by side), and the download has one playhead: following the newest request would let two readers
 * take the playhead from each other on every chunk, and neither would finish. The read that has waited longest
 * holds it; when that read gets its chunk (or goes away) the next-oldest takes over. A seek is still immediate:
 * the player drops its old request, so the new one is the oldest still waiting.
 */

export interface PlayheadArbiter {
  /** a read waits for chunk `index`; call the returned function when it got it or gave up */
  wait(index: number): () => void;
  /** reads waiting now */
  readonly waiting: number;
}

export function createPlayheadArbiter(onPlayhead: (index: number) => void): PlayheadArbiter {
  // insertion order is age order: the first entry is the oldest waiter
  const waiters = new Map<number, number>();
  let next = 0;
  let reported: number | null = null;
  const report = () => {
    const oldest = waiters.values().next();
    if (oldest.done || oldest.value === reported) return;
    reported = oldest.value;
    onPlayhead(oldest.value);
  };
  return {
    wait(index) {
      const id = next++;
      waiters.set(id, index);
      report();
      return () => {
        if (!waiters.delete(id)) return;
        // the chunk that just arrived is behind the playhead now; whoever waits next sets it
        reported = null;
        report();
      };
    },
    get waiting() {
      return waiters.size;
    },
  };
}
