/**
 * The incremental piece picker's index (issue 11 item 3): what every remote peer holds, how many peers hold each
 * chunk, and, per peer, the chunks it holds that this client lacks, bucketed by availability and ordered by the
 * client's tie-break rank. Every update (have, bitfield, leave, a refusal, a verified chunk) costs O(peers) per
 * chunk it touches, and a pick costs O(peers + requests in flight), whatever the chunk count: nothing is
 * recomputed over all chunks, nothing is sorted over all missing chunks.
 *
 * THE ONE MUTABLE PART OF THE DOWNLOAD MACHINE'S CONTEXT. An index is created when the manifest is known
 * (`storeOpenReply`) and is mutated in place, only by the machine's actions through context.ts
 * (`applyPeerEvent`, `chunkVerified`, `peerFetchFailure`, `indexPeers`), never read-modify-written elsewhere.
 * The context does not hold it as a field: `context.peers` stays a plain `Record<string, PeerView>` (JSON,
 * `Object.values`, `peers.a?.have[i]` work as before), rebuilt (O(peers)) by `view()` after each update and
 * carrying the index under a non-enumerable symbol that JSON and `Object.*` do not see. Each `PeerView.have`
 * array is the index's live array for that peer: an older snapshot's `peers` shows the current bits (the
 * `haveCount`, `unchoked` and `failures` of an older PeerView object do not change). A record without an index
 * (built by hand, spread) still works with the picker functions in peers.ts: they build a throwaway index or use
 * the reference code.
 */
import type { PeerView } from './types.js';
import { mix, RankSet } from './rankset.js';

export { mix, RankSet };

const INDEX = Symbol('pieceIndex');

/** One remote peer in the index (read by the picker, indexPick.ts; written only here). */
export interface Slot {
  id: string;
  /** live bits, exposed as PeerView.have */
  bits: boolean[];
  haveCount: number;
  /** chunks it holds that the client lacks */
  missingHeld: number;
  /** buckets[a]: ranks of the chunks it holds that the client lacks, with availability a */
  buckets: (RankSet | undefined)[];
  unchoked: boolean;
  failures: number;
  view: PeerView;
}

export const MAX_PEER_FAILURES = 3;

/** The index's structures as the picker reads them (PieceIndex.forPick). */
export interface PickView {
  count: number;
  /** 1 where the client holds the chunk */
  client: Uint8Array;
  /** chunk index → how many peers hold it */
  avail: Int32Array;
  /** chunk index → tie-break rank, and back */
  rankOf: Int32Array;
  byRank: Int32Array;
  missingCount: number;
  slots: ReadonlyMap<string, Slot>;
}

export class PieceIndex {
  /** chunk index → tie-break rank (rarest first ties, the per-client shuffle) */
  private readonly rankOf: Int32Array;
  /** rank → chunk index */
  private readonly byRank: Int32Array;
  private readonly avail: Int32Array;
  private readonly client: Uint8Array;
  private missingCount: number;
  private readonly slots = new Map<string, Slot>();
  /** missing chunks by availability: by index (origin order) and by rank (swarm-aware origin order) */
  private readonly gIdx: RankSet[] = [];
  private readonly gTie: RankSet[] = [];

  constructor(readonly count: number, readonly self: string, clientHave: readonly boolean[]) {
    const keys = new Float64Array(count);
    for (let i = 0; i < count; i++) keys[i] = mix(self, i);
    const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => keys[a]! - keys[b]! || a - b);
    this.byRank = Int32Array.from(order);
    this.rankOf = new Int32Array(count);
    for (let r = 0; r < count; r++) this.rankOf[order[r]!] = r;
    this.avail = new Int32Array(count);
    this.client = new Uint8Array(count);
    this.missingCount = count;
    this.globalAt(0);
    for (let i = 0; i < count; i++) {
      this.gIdx[0]!.add(i);
      this.gTie[0]!.add(this.rankOf[i]!);
    }
    this.setClientHave(clientHave);
  }

  /** What the picker (indexPick.ts) reads: the index's own structures, read-only by contract. */
  forPick(): PickView {
    return { count: this.count, client: this.client, avail: this.avail, rankOf: this.rankOf, byRank: this.byRank,
      missingCount: this.missingCount, slots: this.slots };
  }

  /** The index a record made by `view()` carries, if any. */
  static of(peers: Record<string, PeerView>): PieceIndex | undefined {
    return (peers as { [INDEX]?: PieceIndex })[INDEX];
  }

  /** A throwaway index from a plain peer record (tests, hand-built records). */
  static fromRecord(count: number, self: string, have: readonly boolean[], peers: Record<string, PeerView>): PieceIndex {
    const idx = new PieceIndex(count, self, have);
    for (const [id, p] of Object.entries(peers)) {
      idx.bitfield(id, p.have);
      const s = idx.slots.get(id)!;
      s.unchoked = p.unchoked;
      s.failures = p.failures;
      idx.refresh(s);
    }
    return idx;
  }

  /** The peer record for the context: plain PeerViews by id, carrying this index (non-enumerable). */
  view(): Record<string, PeerView> {
    const out: Record<string, PeerView> = {};
    for (const [id, s] of this.slots) out[id] = s.view;
    Object.defineProperty(out, INDEX, { value: this, enumerable: false });
    return out;
  }

  /** Compact form for snapshots/inspection (the peers themselves are in `context.peers`). */
  toJSON() {
    return { count: this.count, peers: this.slots.size, missing: this.missingCount };
  }

  availability(i: number): number {
    return this.avail[i]!;
  }

  missing(): number {
    return this.missingCount;
  }

  /** Missing chunks that no linked peer holds (only the origin, or peers not linked, can bring them). O(1). */
  unheld(): number {
    return this.gIdx[0]?.size ?? this.missingCount;
  }

  peerIds(): string[] {
    return [...this.slots.keys()];
  }

  /** The client's own verified chunks, re-read (a re-open): O(count), rare. */
  setClientHave(have: readonly boolean[]): void {
    for (let i = 0; i < this.count; i++) {
      const h = have[i] === true;
      if (h && !this.client[i]) this.clientGot(i);
      else if (!h && this.client[i]) this.clientLost(i);
    }
  }

  /** The client verified chunk i: it leaves every holder's buckets and the origin order. */
  clientGot(i: number): void {
    if (i < 0 || i >= this.count || this.client[i]) return;
    this.client[i] = 1;
    this.missingCount--;
    const a = this.avail[i]!;
    const r = this.rankOf[i]!;
    for (const s of this.slots.values()) {
      if (!s.bits[i]) continue;
      s.buckets[a]!.delete(r);
      s.missingHeld--;
    }
    this.gIdx[a]!.delete(i);
    this.gTie[a]!.delete(r);
  }

  private clientLost(i: number): void {
    this.client[i] = 0;
    this.missingCount++;
    const a = this.avail[i]!;
    const r = this.rankOf[i]!;
    for (const s of this.slots.values()) {
      if (!s.bits[i]) continue;
      this.bucketAt(s, a).add(r);
      s.missingHeld++;
    }
    this.globalAt(a);
    this.gIdx[a]!.add(i);
    this.gTie[a]!.add(r);
  }

  /** A peer linked (it holds nothing yet); a known peer is left as it is. */
  join(id: string): void {
    this.slot(id);
  }

  /** A peer's whole bitfield (first or a replacement): only the differences are applied. */
  bitfield(id: string, have: readonly boolean[]): void {
    const s = this.slot(id);
    for (let i = 0; i < this.count; i++) {
      const h = have[i] === true;
      if (h !== s.bits[i]) {
        if (h) this.gain(s, i);
        else this.lose(s, i);
      }
    }
    this.refresh(s);
  }

  /** A peer announced chunk i (out-of-range or known: nothing changes). */
  have(id: string, i: number): void {
    const s = this.slot(id);
    if (i < 0 || i >= this.count || s.bits[i]) return;
    this.gain(s, i);
    this.refresh(s);
  }

  /** A peer no longer has chunk i (it refused a request for it). */
  drop(id: string, i: number): void {
    const s = this.slots.get(id);
    if (!s || i < 0 || i >= this.count || !s.bits[i]) return;
    this.lose(s, i);
    this.refresh(s);
  }

  /** A peer left (or was banned): its chunks no longer count. O(its chunks × peers). */
  leave(id: string): void {
    const s = this.slots.get(id);
    if (!s) return;
    for (let i = 0; i < this.count; i++) if (s.bits[i]) this.lose(s, i);
    this.slots.delete(id);
  }

  setFlags(id: string, f: Partial<Pick<PeerView, 'unchoked' | 'failures'>>): void {
    const s = this.slot(id);
    if (f.unchoked !== undefined) s.unchoked = f.unchoked;
    if (f.failures !== undefined) s.failures = f.failures;
    this.refresh(s);
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  private slot(id: string): Slot {
    let s = this.slots.get(id);
    if (!s) {
      const bits = new Array<boolean>(this.count).fill(false);
      s = { id, bits, haveCount: 0, missingHeld: 0, buckets: [], unchoked: false, failures: 0,
        view: { have: bits, haveCount: 0, unchoked: false, failures: 0 } };
      this.slots.set(id, s);
    }
    return s;
  }

  private refresh(s: Slot): void {
    const v = s.view;
    if (v.haveCount !== s.haveCount || v.unchoked !== s.unchoked || v.failures !== s.failures) {
      s.view = { have: s.bits, haveCount: s.haveCount, unchoked: s.unchoked, failures: s.failures };
    }
  }

  private bucketAt(s: Slot, a: number): RankSet {
    let b = s.buckets[a];
    if (!b) {
      while (s.buckets.length < a) s.buckets.push(undefined);
      b = new RankSet(this.count);
      s.buckets[a] = b;
    }
    return b;
  }

  private globalAt(a: number): void {
    while (this.gIdx.length <= a) {
      this.gIdx.push(new RankSet(this.count));
      this.gTie.push(new RankSet(this.count));
    }
  }

  /** Availability of a missing chunk moves from a to b: every holder's bucket and the origin order follow. */
  private move(i: number, a: number, b: number, except: Slot): void {
    const r = this.rankOf[i]!;
    for (const q of this.slots.values()) {
      if (q === except || !q.bits[i]) continue;
      q.buckets[a]!.delete(r);
      this.bucketAt(q, b).add(r);
    }
    this.globalAt(b);
    this.gIdx[a]!.delete(i);
    this.gIdx[b]!.add(i);
    this.gTie[a]!.delete(r);
    this.gTie[b]!.add(r);
  }

  private gain(s: Slot, i: number): void {
    const a = this.avail[i]!;
    this.avail[i] = a + 1;
    s.bits[i] = true;
    s.haveCount++;
    if (this.client[i]) return;
    this.move(i, a, a + 1, s);
    this.bucketAt(s, a + 1).add(this.rankOf[i]!);
    s.missingHeld++;
  }

  private lose(s: Slot, i: number): void {
    const a = this.avail[i]!;
    this.avail[i] = a - 1;
    s.bits[i] = false;
    s.haveCount--;
    if (this.client[i]) return;
    s.buckets[a]!.delete(this.rankOf[i]!);
    s.missingHeld--;
    this.move(i, a, a - 1, s);
  }

  /**
   * Origin order alongside peers (peers.ts's originOrder): missing chunks not in `busy`, least available first
   * (chunks no peer holds first), then by index or, `shuffled`, by this client's tie-break rank.
   */
  originOrder(busy: readonly number[], free: number, shuffled: boolean): number[] {
    const out: number[] = [];
    if (free <= 0) return out;
    const skip = new Set(busy);
    const sets = shuffled ? this.gTie : this.gIdx;
    for (let a = 0; a < sets.length && out.length < free; a++) {
      const set = sets[a]!;
      for (let x = set.next(0); x !== -1 && out.length < free; x = set.next(x + 1)) {
        const i = shuffled ? this.byRank[x]! : x;
        if (!skip.has(i)) out.push(i);
      }
    }
    return out;
  }

  /** Internal consistency (tests): counts, buckets and origin order agree with the bits. */
  check(): string | null {
    for (let i = 0; i < this.count; i++) {
      let n = 0;
      for (const s of this.slots.values()) if (s.bits[i]) n++;
      if (n !== this.avail[i]) return `avail[${i}] = ${this.avail[i]}, holders ${n}`;
      const a = this.avail[i]!;
      const missing = !this.client[i];
      if ((this.gIdx[a]?.has(i) === true) !== missing || (this.gTie[a]?.has(this.rankOf[i]!) === true) !== missing) {
        return `origin order of ${i}`;
      }
      for (const s of this.slots.values()) {
        const inB = s.buckets[a]?.has(this.rankOf[i]!) === true;
        if (inB !== (missing && s.bits[i])) return `bucket of ${i} for ${s.id}`;
      }
    }
    for (const s of this.slots.values()) {
      let held = 0;
      let total = 0;
      for (const b of s.buckets) total += b?.size ?? 0;
      for (let i = 0; i < this.count; i++) if (s.bits[i] && !this.client[i]) held++;
      if (held !== s.missingHeld || total !== held) return `missingHeld of ${s.id}`;
      if (s.bits.filter(Boolean).length !== s.haveCount) return `haveCount of ${s.id}`;
    }
    return null;
  }
}
