/**
 * Who needs our upload most: the uploader serves, unchokes and hands free slots to the peer that lacks the most
 * chunks first (uploader.ts says when). A peer holding nothing is an idle uploader until someone gives it a chunk
 * (at a flash crowd's start, two of ten peers linked to every early holder got their first chunk only after
 * ~1.2 s while the others collected their third), and at the end the peer furthest behind decides when the last
 * one is done.
 *
 * The count comes from the remote's own bitfield, which a hostile peer can fake: announcing nothing would put it
 * first everywhere. Receipts guard it: a chunk we sent it whole that it still does not announce `receiptMs` after
 * it can have arrived (an honest peer announces a verified chunk within a few hundred ms, and bans a sender whose
 * chunk failed) shows that its bitfield lies, and its need counts 0 from then on: no favour, though it is still
 * served as anyone else. Arrival allows for a slow uplink: the bytes queued ahead of the chunk in the link's send
 * buffer are given time to drain at `DRAIN_FLOOR_BPS`.
 */
import type { Logger } from '../../lib/logger.js';

export interface NeedInit {
  /** how long a peer has to announce a chunk we sent it whole, once delivered (default 3000 ms) */
  receiptMs?: number;
  /** receipts kept per peer, the oldest dropped beyond it (default 8) */
  maxReceipts?: number;
}

export interface NeedComponents {
  /** how many chunks the remote lacks, from its bitfield */
  lacking(peerId: string): number;
  /** whether the remote's bitfield holds `index` */
  remoteHas(peerId: string, index: number): boolean;
  logger: Logger;
  now?: () => number;
}

export interface Need {
  /** the remote's need: chunks it lacks, or 0 once its bitfield was caught lying */
  of(peerId: string): number;
  /**
   * we sent the remote `index` whole: it should announce it soon. `queuedBytes`: what still sat in the link's send
   * buffer when the chunk's last piece went in (the chunk is not delivered before those bytes are)
   */
  sent(peerId: string, index: number, queuedBytes?: number): void;
  /** the link is gone: its receipts go (a peer caught lying stays caught) */
  forget(peerId: string): void;
}

/** the slowest uplink a receipt allows for while a send buffer drains (64 KiB/s: 1 MiB buffered adds 16 s) */
const DRAIN_FLOOR_BPS = 64 * 1024;
/** peers remembered as liars before the set starts over */
const MAX_LIARS = 4096;

export function createNeed(init: NeedInit, c: NeedComponents): Need {
  const receiptMs = init.receiptMs ?? 3000;
  const maxReceipts = init.maxReceipts ?? 8;
  const now = c.now ?? (() => performance.now());
  /** per linked peer: chunks sent whole and not yet seen in its bitfield, oldest first */
  const receipts = new Map<string, Array<{ index: number; at: number }>>();
  const liars = new Set<string>();

  /** settles the receipts that are due: announced ones are dropped, one still missing convicts the peer */
  const check = (peerId: string) => {
    const list = receipts.get(peerId);
    if (!list) return;
    const t = now();
    while (list.length > 0 && list[0]!.at + receiptMs <= t) {
      const r = list.shift()!;
      if (c.remoteHas(peerId, r.index)) continue;
      if (liars.size >= MAX_LIARS) liars.clear();
      liars.add(peerId);
      receipts.delete(peerId);
      c.logger.info('peer does not announce a chunk we sent it: its bitfield gets no favour', { peerId, index: r.index });
      return;
    }
    // announced ones need no wait (and free the room for later receipts)
    for (let i = list.length - 1; i >= 0; i--) if (c.remoteHas(peerId, list[i]!.index)) list.splice(i, 1);
  };

  return {
    of(peerId) {
      if (liars.has(peerId)) return 0;
      check(peerId);
      return liars.has(peerId) ? 0 : c.lacking(peerId);
    },
    sent(peerId, index, queuedBytes = 0) {
      if (liars.has(peerId)) return;
      const list = receipts.get(peerId) ?? [];
      // a send buffer drains at the uplink's pace: on a slow one, a chunk handed over now arrives seconds later
      list.push({ index, at: now() + (Math.max(0, queuedBytes) * 1000) / DRAIN_FLOOR_BPS });
      if (list.length > maxReceipts) list.shift();
      receipts.set(peerId, list);
    },
    forget(peerId) {
      // a liar stays one across reconnects (bounded: forgetting them all is harmless)
      receipts.delete(peerId);
    },
  };
}
