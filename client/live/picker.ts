/**
 * What a live viewer knows of its neighbours and how it picks whom to ask: which parts each unchoked peer
 * announced (from its bitfield and pushed `have`s), how many of our requests each has, and which ones rest after
 * refusing us. Picking spreads load: the rarest part of a segment first, and among the holders with the fewest of
 * our requests one at random. Portable and without I/O.
 */
import { LIVE_PARTS, liveIndex } from '../../protocol/mod.js';
import type { SwarmEvent } from '../p2p/swarm.js';

export interface PeerPicker {
  /** a swarm event: bitfields, haves, choke state, departures */
  note(e: SwarmEvent): void;
  /** an unchoked, not resting peer that announced part `index`, with fewer than `perPeer` of our requests */
  peerFor(index: number, now: number): string | null;
  /** unchoked peers that announced part `index` */
  holders(index: number): number;
  /** the parts of segment `seq`, rarest among our peers first (ties at random) */
  rarestFirst(seq: number): number[];
  /** a request to `peerId` started / ended */
  started(peerId: string): void;
  ended(peerId: string): void;
  /** the peer refused or failed a request: leave it alone until `until` */
  rest(peerId: string, until: number): void;
  /** the peer said it does not hold part `index` after all */
  forget(peerId: string, index: number): void;
  /** bounds what is kept per peer: parts below `index` are of no use any more */
  prune(belowIndex: number, keepParts: number): void;
}

export function createPeerPicker(opts: { perPeer: number }): PeerPicker {
  const has = new Map<string, Set<number>>();
  const busyUntil = new Map<string, number>();
  const unchoked = new Set<string>();
  const load = new Map<string, number>();
  let pruneBelow = 0;
  let keep = Infinity;

  const holders = (index: number): number => {
    let n = 0;
    for (const p of unchoked) if (has.get(p)?.has(index)) n++;
    return n;
  };
  return {
    note(e) {
      switch (e.type) {
        case 'peer.bitfield': {
          const set = new Set<number>();
          for (let i = 0; i < e.have.length; i++) if (e.have[i]) set.add(i);
          has.set(e.peerId, set);
          break;
        }
        case 'peer.have': {
          const set = has.get(e.peerId) ?? new Set<number>();
          has.set(e.peerId, set);
          set.add(e.index);
          if (set.size > keep) for (const i of set) if (i < pruneBelow) set.delete(i);
          break;
        }
        case 'peer.unchoked':
          unchoked.add(e.peerId);
          break;
        case 'peer.choked':
          unchoked.delete(e.peerId);
          break;
        case 'peer.left':
          unchoked.delete(e.peerId);
          has.delete(e.peerId);
          busyUntil.delete(e.peerId);
          break;
        default:
          break;
      }
    },
    // every neighbour hears the same `have` at the same moment: a fixed tie-break would send them all to the same
    // holder, which can serve a few and refuses the rest as overloaded
    peerFor(index, now) {
      let best: string[] = [];
      let least = Infinity;
      for (const p of unchoked) {
        if (!has.get(p)?.has(index) || (busyUntil.get(p) ?? 0) > now) continue;
        const l = load.get(p) ?? 0;
        if (l >= opts.perPeer || l > least) continue;
        if (l < least) {
          best = [];
          least = l;
        }
        best.push(p);
      }
      return best.length === 0 ? null : best[Math.floor(Math.random() * best.length)]!;
    },
    holders,
    // neighbours that all asked for part 0 first would leave part 3 with its first holder; asking for the rarest
    // spreads the parts, which are then swapped in parallel
    rarestFirst(seq) {
      const order = Array.from({ length: LIVE_PARTS }, (_, k) => ({ k, n: holders(liveIndex(seq, k)), r: Math.random() }));
      return order.sort((a, b) => a.n - b.n || a.r - b.r).map((o) => o.k);
    },
    started: (p) => void load.set(p, (load.get(p) ?? 0) + 1),
    ended(p) {
      const n = (load.get(p) ?? 1) - 1;
      if (n > 0) load.set(p, n);
      else load.delete(p);
    },
    rest: (p, until) => void busyUntil.set(p, until),
    forget: (p, index) => void has.get(p)?.delete(index),
    prune(belowIndex, keepParts) {
      pruneBelow = belowIndex;
      keep = keepParts;
    },
  };
}
