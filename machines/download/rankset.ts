/**
 * Ordered integer sets for the piece picker (pieceIndex.ts): chunks as ranks of the client's tie-break order
 * (`mix`), so "the next chunk in this client's order" is "the smallest member ≥ x".
 */

/** Least significant set bit of a non-zero 32-bit word. */
const ctz = (m: number): number => 31 - Math.clz32(m & -m);

/**
 * A set of integers in [0, n) as a hierarchy of 32-bit words (a 32-ary summary tree): add, delete, has and
 * "smallest member ≥ x" in O(log₃₂ n) word operations (3 levels for 32,768).
 */
export class RankSet {
  private readonly levels: Uint32Array[] = [];
  size = 0;
  constructor(readonly n: number) {
    let len = Math.max(1, Math.ceil(n / 32));
    for (;;) {
      this.levels.push(new Uint32Array(len));
      if (len === 1) break;
      len = Math.ceil(len / 32);
    }
  }
  has(x: number): boolean {
    return ((this.levels[0]![x >>> 5]! >>> (x & 31)) & 1) === 1;
  }
  add(x: number): void {
    if (this.has(x)) return;
    this.size++;
    for (const lv of this.levels) {
      const w = x >>> 5;
      const was = lv[w]!;
      lv[w] = was | (1 << (x & 31));
      if (was !== 0) return;
      x = w;
    }
  }
  delete(x: number): void {
    if (!this.has(x)) return;
    this.size--;
    for (const lv of this.levels) {
      const w = x >>> 5;
      const now = lv[w]! & ~(1 << (x & 31));
      lv[w] = now;
      if (now !== 0) return;
      x = w;
    }
  }
  /** The smallest member ≥ x, or -1. */
  next(x: number): number {
    if (x >= this.n || this.size === 0) return -1;
    const top = this.levels.length - 1;
    let l = 0;
    for (;;) {
      const lv = this.levels[l]!;
      const w = x >>> 5;
      if (w >= lv.length) return -1;
      const m = lv[w]! & (-1 << (x & 31));
      if (m !== 0) {
        x = (w << 5) | ctz(m);
        break;
      }
      if (l === top) return -1;
      x = w + 1;
      l++;
    }
    while (l > 0) {
      l--;
      x = (x << 5) | ctz(this.levels[l]![x]!);
    }
    return x;
  }
}

/** FNV-1a of `seed` and `i`: a cheap, stable per-client shuffle key (no randomness in a pure machine). */
export function mix(seed: string, i: number): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < seed.length; k++) h = Math.imul(h ^ seed.charCodeAt(k), 0x01000193);
  h = Math.imul(h ^ i, 0x01000193);
  h = Math.imul(h ^ (i >>> 16), 0x01000193);
  return h >>> 0;
}
