/**
 * Offers a swarm cannot take (links or pending links at their caps) are answered with a `bye` (reason `busy`),
 * so the offerer frees its side at once and offers to someone else at its next announce, instead of holding a
 * link that never opens until its signalling timeout (10 s: measured, a fifth of the offers at a 20-client start
 * were refused this way). A stranger could use refusals to make us send messages, so they are rate limited
 * (`perSecond`, then silent), and answering never allocates anything per sender.
 *
 * The other side: a peer that said `busy` is not offered again for `busyForMs` (its links are full; the tracker
 * may list it again within a second).
 */
import { createKeyedRateLimiter } from '../../lib/ratelimit.js';
import type { SignalMessage } from '../../protocol/mod.js';

/** The reason a refused offer's `bye` carries, and how the offerer recognises it. */
export const BUSY_REASON = 'busy';

export interface RefusalsInit {
  videoId: string;
  /** byes sent per second at most, in bursts of as many (default 20); past it refusals are silent */
  perSecond?: number;
  /** how long a peer that said busy is not offered again (default 10 s) */
  busyForMs?: number;
  /** peers remembered as busy at most (default 256) */
  maxBusy?: number;
}

export interface RefusalsComponents {
  send(to: string, msg: SignalMessage): Promise<void>;
  now(): number;
}

export interface Refusals {
  /** answers a refused offer with `bye busy`, unless over the rate */
  refuse(from: string, connId: string): void;
  /** the remote refused our offer as busy */
  noteBusy(peerId: string): void;
  /** the remote said busy lately: do not offer to it now */
  isBusy(peerId: string): boolean;
}

export function createRefusals(init: RefusalsInit, c: RefusalsComponents): Refusals {
  const perSecond = init.perSecond ?? 20;
  const busyForMs = init.busyForMs ?? 10_000;
  const maxBusy = init.maxBusy ?? 256;
  // one bucket for all senders: what is bounded is what we send, whoever makes us
  const answers = createKeyedRateLimiter({ ratePerSecond: perSecond, burst: perSecond, maxKeys: 1, now: c.now });
  /** peer → when it said busy (insertion order: oldest first) */
  const busy = new Map<string, number>();
  return {
    refuse(from, connId) {
      if (!answers.allow('')) return;
      void c.send(from, { connId, videoId: init.videoId, kind: 'bye', reason: BUSY_REASON }).catch(() => {});
    },
    noteBusy(peerId) {
      busy.delete(peerId);
      busy.set(peerId, c.now());
      while (busy.size > maxBusy) busy.delete(busy.keys().next().value!);
    },
    isBusy(peerId) {
      const at = busy.get(peerId);
      if (at === undefined) return false;
      if (c.now() - at < busyForMs) return true;
      busy.delete(peerId);
      return false;
    },
  };
}
