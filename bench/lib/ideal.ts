/**
 * A chunk-level reference for the cheap end of the frontier: the flash crowd of bench:swarm (capacity 1,
 * swarm-aware, one copy from the origin) played out with whole chunks but with none of a real system's costs — no
 * latency, no CPU, no signalling or link set-up, every peer linked to every other from the first instant.
 *
 * The fluid bound (lib/bounds.ts `egressBound`) lets every peer upload from t = 0 and splits the last bytes
 * among all uploaders; with chunks neither holds: a peer can forward only chunks it holds whole (one hop of a
 * 256 KiB chunk at 1 MiB/s is 250 ms), so the swarm's upload ramps up hop by hop at the start, and the last
 * chunks come one hop each at the end. This schedule says how much of the gap between a measured run and the
 * fluid bound is the grain of the chunks rather than overhead. It is a schedule that can be achieved, not a bound:
 * a better scheduler could finish sooner, never sooner than the fluid bound.
 *
 * The model: the origin sends each chunk once, at `us`, to one holder at a time, in the swarm-aware origin's turns
 * (actors/origin/turns.ts: turn k of n carries 6k²/(n(n+1)(2n+1)) of the file, the last one the rest), handing
 * over at no cost. A peer uploads one chunk at a time at `ui` (downloads are unlimited); when idle it sends the
 * rarest chunk it holds to the peer that holds (or is receiving) the fewest, among those that lack it and are not
 * receiving it already. Ties are broken by a seeded generator. `forwardAfterBytes` asks what forwarding a chunk's first blocks
 * before the chunk is whole would give (a wire change: today a peer forwards only verified chunks).
 */
import { turnShare } from '../../actors/origin/turns.js';
import { rng } from './prng.js';

export interface IdealParams {
  N: number;
  /** file size, bytes */
  F: number;
  chunkBytes: number;
  /** origin egress, bytes/s */
  us: number;
  /** each peer's upload, bytes/s */
  ui: number;
  /** tie-breaks (default 1) */
  seed?: number;
  /**
   * a chunk may be forwarded once this many of its bytes arrived (default: the whole chunk, as peers do today); the
   * forward never runs ahead of the incoming bytes. A what-if for forwarding a chunk's blocks before it is whole
   */
  forwardAfterBytes?: number;
}

export interface IdealResult {
  /** every peer holds every chunk, s */
  D_s: number;
  /** peers' upload left idle before every peer was done, bytes */
  idleUploadBytes: number;
  /** of it, before the swarm first had every peer uploading, bytes */
  rampIdleBytes: number;
}

interface Transfer {
  to: number;
  chunk: number;
  start: number;
  end: number;
  /** bytes/s */
  rate: number;
}

/** Plays the crowd out (see the module comment); O(transfers × N × chunks), ~10 ms for N=20 and 128 chunks. */
export function idealChunkSchedule(p: IdealParams): IdealResult {
  const { N, F, chunkBytes, us, ui } = p;
  if (!(N >= 1 && Number.isInteger(N)) || !(F > 0) || !(chunkBytes > 0) || !(us > 0) || !(ui > 0)) {
    throw new RangeError('N must be a whole number ≥ 1 and F, chunkBytes, us, ui positive');
  }
  const early = p.forwardAfterBytes;
  if (early !== undefined && !(early > 0)) throw new RangeError('forwardAfterBytes must be positive');
  const C = Math.ceil(F / chunkBytes);
  const len = (i: number) => Math.min(chunkBytes, F - i * chunkBytes);
  const rand = rng(p.seed ?? 1);
  const have = Array.from({ length: N }, () => new Uint8Array(C));
  const incoming = Array.from({ length: N }, () => new Uint8Array(C));
  const held = new Int32Array(N);
  const pending = new Int32Array(N);
  const holders = new Int32Array(C);
  const up: Array<Transfer | null> = new Array<Transfer | null>(N).fill(null);
  /** transfers under way, by receiver × C + chunk (what a peer may forward before it is whole) */
  const inflight = new Map<number, Transfer>();
  /** when `x`'s receiver may start forwarding its chunk */
  const forwardableAt = (x: Transfer) => (early === undefined ? x.end
    : Math.min(x.end, x.start + Math.min(early, len(x.chunk)) / x.rate));

  const shuffled = (n: number) => {
    const a = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };
  // the origin: chunks in a shuffled order, each once, in turns
  const order = shuffled(C);
  // the last turn is the rest: it ends when the origin has sent every chunk
  const share = (k: number) => (k >= N ? Infinity : Math.ceil(F * turnShare(k, N)));
  let sent = 0;
  let holder = 0;
  let turn = 1;
  let turnBytes = 0;
  let origin: Transfer | null = null;

  const receive = (x: Transfer) => {
    have[x.to]![x.chunk] = 1;
    incoming[x.to]![x.chunk] = 0;
    inflight.delete(x.to * C + x.chunk);
    held[x.to]!++;
    pending[x.to]!--;
    holders[x.chunk]!++;
  };
  const start = (to: number, chunk: number, t: number, rate: number, after = 0): Transfer => {
    incoming[to]![chunk] = 1;
    pending[to]!++;
    const x = { to, chunk, start: t, end: Math.max(t + len(chunk) / rate, after), rate };
    inflight.set(to * C + chunk, x);
    return x;
  };
  /** what `u` can send at `t`: the chunks it holds, and those arriving far enough along to forward */
  const usable = (u: number, t: number): Uint8Array => {
    if (early === undefined) return have[u]!;
    const out = have[u]!.slice();
    for (const x of inflight.values()) if (x.to === u && forwardableAt(x) <= t + 1e-9) out[x.chunk] = 1;
    return out;
  };

  /** the idle uploader's next transfer: the neediest receiver, then the rarest chunk it can take */
  const pick = (u: number, t: number): Transfer | null => {
    const mine = usable(u, t);
    let best = -1;
    let bestLoad = Infinity;
    let bestTie = 0;
    for (let r = 0; r < N; r++) {
      if (r === u || held[r] === C) continue;
      const load = held[r]! + pending[r]!;
      if (load > bestLoad) continue;
      const theirs = have[r]!;
      const inc = incoming[r]!;
      let useful = false;
      for (let c = 0; c < C && !useful; c++) useful = mine[c] === 1 && theirs[c] === 0 && inc[c] === 0;
      if (!useful) continue;
      const tie = rand();
      if (load < bestLoad || tie < bestTie) {
        best = r;
        bestLoad = load;
        bestTie = tie;
      }
    }
    if (best < 0) return null;
    const theirs = have[best]!;
    const inc = incoming[best]!;
    let chunk = -1;
    let rarest = Infinity;
    let rareTie = 0;
    for (let c = 0; c < C; c++) {
      if (mine[c] !== 1 || theirs[c] === 1 || inc[c] === 1) continue;
      const tie = rand();
      if (holders[c]! < rarest || (holders[c] === rarest && tie < rareTie)) {
        chunk = c;
        rarest = holders[c]!;
        rareTie = tie;
      }
    }
    // a chunk still arriving: its last bytes leave after they came
    const feeding = have[u]![chunk] === 1 ? undefined : inflight.get(u * C + chunk);
    return start(best, chunk, t, ui, feeding ? feeding.end + Math.min(early!, len(chunk)) / ui : 0);
  };

  let t = 0;
  let done = 0;
  let idle = 0;
  let rampIdle = 0;
  let ramping = true;
  while (done < N) {
    if (!origin && sent < C) {
      const chunk = order[sent++]!;
      origin = start(holder, chunk, t, us);
    }
    // idle uploaders choose in a random order, so that no peer always chooses first
    for (const u of shuffled(N)) if (!up[u]) up[u] = pick(u, t);
    let busy = 0;
    let next = origin ? origin.end : Infinity;
    for (const x of up) {
      if (!x) continue;
      busy++;
      next = Math.min(next, x.end);
    }
    // a chunk becoming forwardable is an event too: an idle peer may have something to send then
    if (early !== undefined) for (const x of inflight.values()) if (forwardableAt(x) > t + 1e-9) next = Math.min(next, forwardableAt(x));
    if (busy === N) ramping = false;
    if (next === Infinity) throw new Error('the schedule stalled'); // not reachable: the origin always has a chunk to send
    const lost = (N - busy) * ui * (next - t);
    idle += lost;
    if (ramping) rampIdle += lost;
    t = next;
    const eps = 1e-9;
    if (origin && origin.end <= t + eps) {
      receive(origin);
      turnBytes += len(origin.chunk);
      if (turnBytes >= share(turn)) {
        holder = (holder + 1) % N;
        turn++;
        turnBytes = 0;
      }
      origin = null;
    }
    for (let u = 0; u < N; u++) {
      const x = up[u];
      if (x && x.end <= t + eps) {
        receive(x);
        up[u] = null;
      }
    }
    done = 0;
    for (let r = 0; r < N; r++) if (held[r] === C) done++;
  }
  return { D_s: t, idleUploadBytes: idle, rampIdleBytes: rampIdle };
}
