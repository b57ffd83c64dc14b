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

/**
 * The fluid bound when the origin may send at most e·F (the cost/time frontier, issue 11): N·F bytes must arrive;
 * the origin sends e'·F of them (e' ≤ e, at u_s: e'·F/u_s), the peers the other (N − e')·F (at Σu_i), and every
 * peer receives F (F/d_min). The best e' balances the first two, e* = N·u_s/(u_s + Σu_i), where the bound meets
 * D_p2p; more egress than e*·F buys no time. At e = 1 it is (N − 1)·F/Σu_i (when u_s ≥ Σu_i/(N − 1)).
 */
export function egressBound(p: FluidParams, e: number): number {
  if (!(e >= 1)) throw new RangeError('the origin sends every byte at least once: e ≥ 1');
  const { N, F, us } = p;
  const ui = typeof p.ui === 'number' ? new Array<number>(N).fill(p.ui) : p.ui;
  const sumUi = ui.reduce((a, u) => a + u, 0);
  const eStar = (N * us) / (us + sumUi);
  const x = Math.min(e, Math.max(1, eStar));
  const download = F / (p.dmin ?? Infinity);
  const peers = sumUi > 0 ? ((N - x) * F) / sumUi : N > x ? Infinity : 0;
  return Math.max((x * F) / us, peers, download);
}
