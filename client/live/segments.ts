/**
 * The verified live segments a viewer holds, in memory, served to its peers (a ChunkSource whose indexes are
 * `seq`). Bounded: segments older than `keepSec` behind the newest are dropped, so a viewer of a day-long stream
 * holds about a DVR window, not the day.
 */
import { LIVE_INDEX_SPACE, type LiveSegment } from '../../protocol/mod.js';
import type { ChunkSource } from '../p2p/types.js';

export interface LiveSegmentStore extends ChunkSource {
  put(seg: LiveSegment, bytes: Uint8Array): void;
  get(seq: number): Uint8Array | undefined;
  /** held seqs, ascending */
  seqs(): number[];
  readonly bytes: number;
}

export function createLiveSegmentStore(opts: { keepSec: number }): LiveSegmentStore {
  const held = new Map<number, { seg: LiveSegment; bytes: Uint8Array }>();
  let total = 0;
  let newest = -1;
  const evict = () => {
    const edge = held.get(newest)?.seg;
    if (!edge) return;
    for (const [seq, e] of held) {
      if (edge.producedAt - e.seg.producedAt > opts.keepSec * 1000) {
        held.delete(seq);
        total -= e.bytes.byteLength;
      }
    }
  };
  return {
    get bytes() {
      return total;
    },
    put(seg, bytes) {
      if (held.has(seg.seq)) return;
      held.set(seg.seq, { seg, bytes });
      total += bytes.byteLength;
      if (seg.seq > newest) newest = seg.seq;
      evict();
    },
    get: (seq) => held.get(seq)?.bytes,
    seqs: () => [...held.keys()].sort((a, b) => a - b),
    has: (i) => held.has(i),
    async read(i) {
      const e = held.get(i);
      if (!e) throw new Error(`segment ${i} is not held`);
      return e.bytes;
    },
    have() {
      const h = new Array<boolean>(LIVE_INDEX_SPACE).fill(false);
      for (const seq of held.keys()) h[seq] = true;
      return h;
    },
  };
}
