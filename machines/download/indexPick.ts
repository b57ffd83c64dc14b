/**
 * The incremental picker's choice of new peer requests, over a PieceIndex (pieceIndex.ts keeps the structures
 * up to date; this reads them): O(peers + requests in flight) per pick, whatever the chunk count.
 */
import { MAX_PEER_FAILURES, type PieceIndex, type Slot } from './pieceIndex.js';
import type { PeerFetch, PeerView } from './types.js';

/** What a pick needs besides the index (the same rules and inputs as peers.ts's PickInput). */
export interface IndexPickInput {
  peerInFlight: readonly PeerFetch[];
  originBusy: readonly number[];
  perPeer: number;
  maxSources: number;
  /** streaming: the buffer window [start, end); its chunks go first, nearest the playhead first */
  window?: readonly [number, number];
  /** per-peer flags (unchoked, failures, haveCount) when they come from elsewhere than the index */
  flags?: Record<string, Pick<PeerView, 'unchoked' | 'failures' | 'haveCount'>>;
}

/**
 * New peer requests (peers.ts's rules): least-loaded ready peers choose first; each takes, up to `perPeer` in
 * flight, the unrequested missing chunks it holds, buffer window first (streaming), then rarest first with
 * the per-client tie break; once every missing chunk a ready peer holds is requested, endgame duplicates up
 * to `maxSources` per chunk.
 */
export function pickFromIndex(index: PieceIndex, x: IndexPickInput): PeerFetch[] {
  const ix = index.forPick();
  const out: PeerFetch[] = [];
  if (ix.missingCount === 0) return out;
  const loads = new Map<string, number>();
  for (const f of x.peerInFlight) loads.set(f.peerId, (loads.get(f.peerId) ?? 0) + 1);
  const flagsOf = (s: Slot) => x.flags?.[s.id] ?? s;
  const ready: Slot[] = [];
  for (const s of ix.slots.values()) {
    const f = flagsOf(s);
    if (f.unchoked && f.failures < MAX_PEER_FAILURES && f.haveCount > 0) ready.push(s);
  }
  // nothing to do unless some ready peer has room: the common case on a `have` while pipelines are full
  if (!ready.some((s) => (loads.get(s.id) ?? 0) < x.perPeer)) return out;
  const sources = new Map<number, number>();
  for (const f of x.peerInFlight) sources.set(f.index, (sources.get(f.index) ?? 0) + 1);
  for (const i of x.originBusy) sources.set(i, (sources.get(i) ?? 0) + 1);
  // (chunk, peer) pairs asked: only the endgame reads them, so they are collected on its first need
  let asked = null as Set<string> | null;
  const askedSet = () => {
    if (asked === null) {
      asked = new Set<string>();
      for (const f of x.peerInFlight) asked.add(`${f.index}.${f.peerId}`);
      for (const f of out) asked.add(`${f.index}.${f.peerId}`);
    }
    return asked;
  };
  ready.sort((a, b) => (loads.get(a.id) ?? 0) - (loads.get(b.id) ?? 0) || (a.id < b.id ? -1 : 1));
  const win = x.window;
  const inWin = (i: number) => win !== undefined && i >= win[0] && i < win[1];
  const client = ix.client;
  // endgame bookkeeping, built on first need: per ready peer, how many of the missing chunks it holds are
  // requested; `slack` = ready peers holding a missing chunk nobody was asked for
  let covered: Map<Slot, number> | null = null;
  let slack = 0;
  const buildCovered = () => {
    covered = new Map();
    slack = 0;
    for (const r of ready) {
      let c = 0;
      for (const i of sources.keys()) if (i >= 0 && i < ix.count && !client[i] && r.bits[i]) c++;
      covered.set(r, c);
      if (r.missingHeld > c) slack++;
    }
  };
  const requested = (i: number) => {
    sources.set(i, 1);
    if (covered === null) return;
    for (const r of ready) {
      if (!r.bits[i]) continue;
      const c = covered.get(r)! + 1;
      covered.set(r, c);
      if (c === r.missingHeld) slack--;
    }
  };
  for (const p of ready) {
    const id = p.id;
    let free = x.perPeer - (loads.get(id) ?? 0);
    if (free > 0 && win !== undefined) {
      for (let i = win[0]; i < win[1] && free > 0; i++) {
        if (client[i] || !p.bits[i] || sources.has(i)) continue;
        out.push({ index: i, peerId: id });
        requested(i);
        asked?.add(`${i}.${id}`);
        free--;
      }
    }
    for (let a = 1; a < p.buckets.length && free > 0; a++) {
      const set = p.buckets[a];
      if (!set || set.size === 0) continue;
      for (let r = set.next(0); r !== -1 && free > 0; r = set.next(r + 1)) {
        const i = ix.byRank[r]!;
        if (sources.has(i) || inWin(i)) continue;
        out.push({ index: i, peerId: id });
        requested(i);
        asked?.add(`${i}.${id}`);
        free--;
      }
    }
    if (free <= 0) continue;
    // endgame: every chunk some ready peer could give is already requested
    if (covered === null) {
      // cheap test first: a ready peer holding more missing chunks than are requested in all has one unrequested
      if (ready.some((r) => r.missingHeld > sources.size)) continue;
      buildCovered();
    }
    if (slack > 0) continue;
    // then every missing chunk p holds is requested: the candidates are among `sources`
    const cand: number[] = [];
    for (const i of sources.keys()) if (i >= 0 && i < ix.count && !client[i] && p.bits[i]) cand.push(i);
    const rank = (i: number) => (inWin(i) ? i - win![0] : Number.MAX_SAFE_INTEGER);
    cand.sort((a, b) => rank(a) - rank(b) || ix.avail[a]! - ix.avail[b]! || ix.rankOf[a]! - ix.rankOf[b]!);
    const done = askedSet();
    for (const i of cand) {
      if (free <= 0) break;
      if (done.has(`${i}.${id}`) || (sources.get(i) ?? 0) >= x.maxSources) continue;
      out.push({ index: i, peerId: id });
      sources.set(i, (sources.get(i) ?? 0) + 1);
      done.add(`${i}.${id}`);
      free--;
    }
  }
  return out;
}
