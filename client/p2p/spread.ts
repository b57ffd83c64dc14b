/**
 * The uploader's rule for spreading distinct chunks (uploader.ts applies it): which chunks we have uploaded whole
 * at least once (a chunk nobody has had from us goes before another copy), and what to do when a chunk reaches
 * one peer while others are still queued here for it.
 *
 * Requesters still queued for a chunk that just reached a peer all asked the one holder they knew; they could now
 * get it from that peer (or whoever has it by then) while our upload sends a chunk nobody has had from us: the
 * swarm gains a second distinct chunk instead of a second copy. At a flash crowd's start this is the difference
 * between a chunk reaching a peer a round and a new chunk doing so: four requesters queued for the same chunk at
 * its one holder was the common case, each waiting up to ~750 ms while the peers that already had it sat idle.
 * So the later ones are refused as `overloaded` (the requester re-picks, rarest first) when we hold a fresh chunk
 * they lack. The oldest stays queued so our upload has work without a round trip; a pair refused once is served
 * the next time (its requester may see no other holder).
 */
import { RejectReasons } from '../../protocol/wire.js';
import type { LinkIO } from './types.js';

/** A peer's request queue at the uploader, as the rule reads and trims it. */
export interface QueuedPeer {
  io: Pick<LinkIO, 'peerId' | 'sendReject'>;
  choked: boolean;
  /** chunk indexes requested, oldest first */
  queue: number[];
  /** when the oldest request in `queue` was queued (Infinity: empty) */
  queuedSince: number;
}

export interface SpreadComponents {
  /** the remote lacks a chunk we hold that `pick` accepts (from its bitfield); without it nobody is refused */
  lacksAny?(peerId: string, pick: (index: number) => boolean): boolean;
}

export interface Spread {
  /** nobody has had `index` whole from us yet */
  fresh(index: number): boolean;
  /** `index` just reached `to`: the later requesters queued for it among `peers` look elsewhere */
  reached(to: QueuedPeer, index: number, peers: Iterable<QueuedPeer>): void;
}

/** entries kept in the chunk and pair sets before they start over (forgetting is harmless) */
const MAX_TRACKED = 65_536;

export function createSpread(c: SpreadComponents): Spread {
  /** chunks we uploaded whole at least once (bounded: a live stream's indexes keep growing) */
  const uploadedOnce = new Set<number>();
  /** `peer index` pairs sent elsewhere once: the next request of the pair is served */
  const redirected = new Set<string>();
  const fresh = (i: number) => !uploadedOnce.has(i);

  return {
    fresh,
    reached(to, index, peers) {
      if (uploadedOnce.size >= MAX_TRACKED) uploadedOnce.clear();
      uploadedOnce.add(index);
      if (!c.lacksAny) return;
      const waiting = [...peers].filter((q) => q !== to && !q.choked && q.queue.includes(index))
        .sort((a, b) => a.queuedSince - b.queuedSince);
      for (const q of waiting.slice(1)) {
        const pair = `${q.io.peerId} ${index}`;
        if (redirected.has(pair) || !c.lacksAny(q.io.peerId, fresh)) continue;
        if (redirected.size >= MAX_TRACKED) redirected.clear();
        redirected.add(pair);
        q.queue = q.queue.filter((i) => i !== index);
        if (q.queue.length === 0) q.queuedSince = Infinity;
        q.io.sendReject(index, RejectReasons.overloaded);
      }
    },
  };
}
