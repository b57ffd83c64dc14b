/**
 * Interest between two peers, from the remote's bitfield (BitTorrent's `interested`, derived rather than sent):
 * whether it lacks something we hold (a choked peer cannot request, so the uploader must see its interest this
 * way), and how far behind it is (a seed serves the furthest behind first). Portable: shared with the browser.
 */
import type { ChunkSource } from './types.js';

/** The remote lacks at least one chunk we hold (that `pick` accepts, when given). */
export function remoteWants(remote: readonly boolean[] | null | undefined, source: Pick<ChunkSource, 'has' | 'held'>,
  pick?: (index: number) => boolean): boolean {
  if (!remote) return false;
  if (source.held) {
    for (const i of source.held()) if (!remote[i] && (!pick || pick(i))) return true;
    return false;
  }
  for (let i = 0; i < remote.length; i++) if (!remote[i] && (!pick || pick(i)) && source.has(i)) return true;
  return false;
}

/** Chunks the remote still lacks (0 before its bitfield arrived). */
export function remoteLacking(remote: readonly boolean[] | null | undefined): number {
  if (!remote) return 0;
  let n = 0;
  for (let i = 0; i < remote.length; i++) if (!remote[i]) n++;
  return n;
}
