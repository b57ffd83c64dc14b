/**
 * The fluid-model lower bounds on distribution time (design brief §1, Kurose & Ross): N peers each want a file
 * of F bytes; the origin uploads at u_s, peer i uploads at u_i, and the slowest peer downloads at d_min (bytes/s).
 *   client-server:  D_cs  = max(N·F/u_s, F/d_min)
 *   peer-assisted:  D_p2p = max(F/u_s, F/d_min, N·F/(u_s + Σ u_i))
 * Pure; everything in bytes and bytes/s, results in seconds.
 */

export interface FluidParams {
  /** number of peers */
  N: number;
  /** file size, bytes */
  F: number;
  /** origin upload, bytes/s */
  us: number;
  /** peer uploads, bytes/s: one per peer, or one figure for all */
  ui: number[] | number;
  /** slowest peer download, bytes/s (default: no cap, Infinity) */
  dmin?: number;
}

export interface FluidBounds {
  /** peer-assisted lower bound, s */
  D_p2p: number;
  /** client-server lower bound, s */
  D_cs: number;
}

export function fluidBounds(p: FluidParams): FluidBounds {
  const { N, F, us } = p;
  if (!(N >= 1) || !Number.isFinite(N)) throw new RangeError('N must be a positive number');
  if (!(F >= 0) || !(us > 0)) throw new RangeError('F must be >= 0 and u_s > 0');
  const ui = typeof p.ui === 'number' ? new Array<number>(N).fill(p.ui) : p.ui;
  if (ui.length !== N) throw new RangeError(`ui has ${ui.length} entries for N = ${N}`);
  if (ui.some((u) => !(u >= 0))) throw new RangeError('every u_i must be >= 0');
  const dmin = p.dmin ?? Infinity;
  if (!(dmin > 0)) throw new RangeError('d_min must be > 0');
  const sumUi = ui.reduce((a, u) => a + u, 0);
  const download = F / dmin; // 0 without a cap
  return {
    D_cs: Math.max((N * F) / us, download),
    D_p2p: Math.max(F / us, download, (N * F) / (us + sumUi)),
  };
}
