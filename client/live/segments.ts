/**
 * The verified live segments a viewer holds, in memory, by part: the swarm serves parts (a ChunkSource whose
 * index is `seq * LIVE_PARTS + part`), the player reads whole segments. Bounded: segments produced more than
 * `keepSec` before the newest are dropped, so a viewer of a day-long stream holds about a DVR window.
 */
import {
  LIVE_CHUNK_SPACE, LIVE_PARTS, liveIndex, livePartRange, type LiveSegment,
} from '../../protocol/mod.js';
import type { ChunkSource } from '../p2p/types.js';

export interface LiveSegmentStore extends ChunkSource {
  /** keeps a verified part; true when it completed its segment */
  putPart(seg: LiveSegment, part: number, bytes: Uint8Array): boolean;
  /** keeps a verified whole segment (all its parts) */
  putSegment(seg: LiveSegment, bytes: Uint8Array): void;
  hasPart(seq: number, part: number): boolean;
  /** every part of segment `seq` is held */
  hasSegment(seq: number): boolean;
  /** the whole segment, once complete */
  segment(seq: number): Uint8Array | undefined;
  /** complete seqs, ascending */
  seqs(): number[];
  readonly bytes: number;
}

interface Held {
  seg: LiveSegment;
  parts: Array<Uint8Array | undefined>;
  count: number;
  whole?: Uint8Array;
}

export function createLiveSegmentStore(opts: { keepSec: number }): LiveSegmentStore {
  const held = new Map<number, Held>();
  let total = 0;
  let newestAt = 0;
  const entry = (seg: LiveSegment): Held => {
    let h = held.get(seg.seq);
    if (!h) {
      h = { seg, parts: new Array(LIVE_PARTS).fill(undefined), count: 0 };
      held.set(seg.seq, h);
      if (seg.producedAt > newestAt) {
        newestAt = seg.producedAt;
        for (const [seq, e] of held) {
          if (newestAt - e.seg.producedAt > opts.keepSec * 1000) {
            held.delete(seq);
            for (const p of e.parts) total -= p?.byteLength ?? 0;
          }
        }
      }
    }
    return h;
  };
  const whole = (h: Held): Uint8Array => {
    if (!h.whole) {
      const out = new Uint8Array(h.seg.length);
      for (let k = 0; k < LIVE_PARTS; k++) out.set(h.parts[k]!, livePartRange(h.seg.length, k).offset);
      h.whole = out;
    }
    return h.whole;
  };
  const part = (index: number) => {
    const h = held.get(Math.floor(index / LIVE_PARTS));
    return h?.parts[index % LIVE_PARTS];
  };
  return {
    get bytes() {
      return total;
    },
    putPart(seg, k, bytes) {
      const h = entry(seg);
      if (h.parts[k]) return false;
      h.parts[k] = bytes;
      h.count++;
      total += bytes.byteLength;
      return h.count === LIVE_PARTS;
    },
    putSegment(seg, bytes) {
      const h = entry(seg);
      for (let k = 0; k < LIVE_PARTS; k++) {
        if (h.parts[k]) continue;
        const r = livePartRange(seg.length, k);
        h.parts[k] = bytes.subarray(r.offset, r.offset + r.length);
        h.count++;
        total += r.length;
      }
      h.whole = bytes;
    },
    hasPart: (seq, k) => held.get(seq)?.parts[k] !== undefined,
    hasSegment: (seq) => held.get(seq)?.count === LIVE_PARTS,
    segment(seq) {
      const h = held.get(seq);
      return h && h.count === LIVE_PARTS ? whole(h) : undefined;
    },
    seqs: () => [...held.values()].filter((h) => h.count === LIVE_PARTS).map((h) => h.seg.seq).sort((a, b) => a - b),
    has: (i) => part(i) !== undefined,
    async read(i) {
      const p = part(i);
      if (!p) throw new Error(`part ${i} is not held`);
      return p;
    },
    *held() {
      for (const e of held.values()) for (let k = 0; k < LIVE_PARTS; k++) if (e.parts[k]) yield liveIndex(e.seg.seq, k);
    },
    complete: () => false,
    have() {
      const h = new Array<boolean>(LIVE_CHUNK_SPACE).fill(false);
      for (const e of held.values()) for (let k = 0; k < LIVE_PARTS; k++) if (e.parts[k]) h[liveIndex(e.seg.seq, k)] = true;
      return h;
    },
  };
}
