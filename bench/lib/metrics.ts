/** Pure figures of a crowd run: percentiles, mode switches, resume-server latency. */

export const MODE_STATES = new Set(['active.server', 'active.p2p', 'active.resumeServer']);
export const SLOT_STATES = new Set(['active.server', 'active.resumeServer']);

export const median = (xs: number[]) => percentile(xs, 50);

/** Nearest-rank percentile (NaN for no samples). */
export function percentile(xs: number[], p: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

/** Mode switches in one client's history: changes between server, p2p and resumeServer (other states skipped). */
export function countSwitches(history: Array<{ state: string }>): number {
  let prev: string | null = null;
  let n = 0;
  for (const { state } of history) {
    if (!MODE_STATES.has(state)) continue;
    if (prev !== null && prev !== state) n++;
    prev = state;
  }
  return n;
}

/**
 * A slot frees when its holder (last mode state server or resumeServer) enters `releasing`, or drops back to
 * `active.p2p` (lease lost or revoked, e.g. a slot rotated to a waiter); each entry into `active.resumeServer`
 * is measured from the latest such moment before it.
 */
export function resumeLatencies(histories: Array<Array<{ state: string; atMs: number }>>): number[] {
  const releases: number[] = [];
  for (const h of histories) {
    let mode: string | null = null;
    for (const e of h) {
      const holding = mode !== null && SLOT_STATES.has(mode);
      if (holding && (e.state === 'releasing' || e.state === 'active.p2p')) releases.push(e.atMs);
      if (MODE_STATES.has(e.state)) mode = e.state;
      else if (e.state === 'releasing') mode = null;
    }
  }
  releases.sort((a, b) => a - b);
  const out: number[] = [];
  for (const h of histories) {
    for (const e of h) {
      if (e.state !== 'active.resumeServer') continue;
      let latest: number | null = null;
      for (const r of releases) if (r <= e.atMs) latest = r;
      if (latest !== null) out.push(e.atMs - latest);
    }
  }
  return out;
}

