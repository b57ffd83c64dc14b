/**
 * Turns at the origin (swarm-aware, while others wait for a slot): each holder is told its share of the video
 * (`lease.turnBytes`, the size over the sessions sharing it); once it asked the origin for that many bytes, or
 * the origin has nothing left to send it (everything it lacks is declined as already in the swarm, or on its way
 * from peers), the holder yields the slot and carries on with peers. One round of turns puts each part of the file
 * into a different peer about once, and every client switches about twice instead of at every rotation.
 *
 * After its turn a client is parked at the origin: it is offered a slot again only when it needs one, i.e. it
 * lacks chunks that none of its linked peers holds (a holder left, or never linked), and nobody waits who had no
 * turn yet. Pure: the machine applies these rules; the session keeper carries them to the origin.
 */
import type { DownloadContext } from './context.js';
import { chunkLength } from '../../protocol/mod.js';
import { PieceIndex } from './pieceIndex.js';

/** Origin bytes under the slot (urgent grants are counted in `origin` too, but hold no slot). */
const slotBytes = (ctx: DownloadContext) => (ctx.bytesBySource.origin ?? 0) - ctx.urgentBytes;

/** Where a turn starts counting: now (on entering an origin state). */
export const turnStart = (ctx: DownloadContext): Partial<DownloadContext> => ({ turnFrom: slotBytes(ctx), unsentHint: null });

/** The gateway said every chunk went out to someone: a turn asks the origin nothing more (it would be declined). */
export const allSent = (ctx: DownloadContext): boolean =>
  ctx.unsentHint !== null && ctx.unsentHint.length === 0 && ((ctx.lease?.turnBytes ?? 0) > 0 || ctx.turns > 0);

/** Origin bytes of this turn: those in, and those asked for (admitted by the gateway, they finish either way). */
function turnBytesAsked(ctx: DownloadContext): number {
  let asked = slotBytes(ctx) - ctx.turnFrom;
  const m = ctx.manifest;
  if (m !== null) for (const i of ctx.inFlight) asked += chunkLength(m, i);
  return asked;
}

/**
 * This turn's share is asked for: no new origin request, and the slot may go to the next waiter now. The
 * requests already out that reached the gateway while we held the slot still finish, so the next holder's
 * requests queue behind them at the gateway instead of the origin idling between turns while this client's
 * responses arrive and are verified (measured at a 20-client start: 150–400 ms per hand-over, in a busy process).
 * Under load some reach it only after the release (2–9 per 20-client start, bench/README "Fifteenth session"):
 * the gateway admits a few requests of a session that just yielded (actors/origin/leases.ts), so they finish too.
 */
export function shareSpent(ctx: DownloadContext): boolean {
  const share = ctx.lease?.turnBytes ?? 0;
  return share > 0 && turnBytesAsked(ctx) >= share;
}

/** How many more origin requests this turn's share allows (Infinity without a turn): a turn is not overshot. */
export function shareLeft(ctx: DownloadContext): number {
  const share = ctx.lease?.turnBytes ?? 0;
  const m = ctx.manifest;
  if (share <= 0 || m === null) return Infinity;
  return Math.max(0, Math.ceil((share - turnBytesAsked(ctx)) / m.chunkSize));
}

/**
 * The holder's turn is over: it got its share, or the origin has nothing left to send it (everything it lacks
 * was declined as in the swarm). The second also ends a slot given back to a parked client that needed one.
 */
export function turnOver(ctx: DownloadContext): boolean {
  if (ctx.grant === null) return false;
  if (shareSpent(ctx)) return true;
  const share = ctx.lease?.turnBytes ?? 0;
  return (share > 0 || ctx.turns > 0) && ctx.inFlight.length === 0 && ctx.backoff.length === 0 && ctx.declined.length > 0;
}

/**
 * Missing chunks that none of the linked peers holds: only the origin (or an unlinked peer) can bring them. The
 * keeper tells the origin only when this lasts and the peers brought nothing meanwhile (runner.ts).
 */
export function needsOrigin(ctx: DownloadContext): boolean {
  const m = ctx.manifest;
  if (m === null || ctx.haveCount === m.chunks.length) return false;
  const idx = PieceIndex.of(ctx.peers);
  if (idx && idx.count === m.chunks.length) return idx.unheld() > 0;
  const holders = Object.values(ctx.peers);
  for (let i = 0; i < m.chunks.length; i++) {
    if (!ctx.have[i] && !holders.some((p) => p.have[i] === true)) return true;
  }
  return false;
}
