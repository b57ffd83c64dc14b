/**
 * Pure figures of a crowd run: percentiles, mode switches, resume-server latency. Histories are read by mode (the
 * download machine's state tags, `modeOfSnapshot`), never by state names, so a machine refactor cannot silently
 * change a benchmark's figures.
 */
import type { DownloadMode } from '../../machines/download/machine.js';

/** Modes that fetch: the origin (server, resumeServer) or peers only (p2p). */
export const FETCH_MODES: ReadonlySet<DownloadMode> = new Set<DownloadMode>(['server', 'p2p', 'resumeServer']);
/** Modes in which the client holds an origin slot. */
export const SLOT_MODES: ReadonlySet<DownloadMode> = new Set<DownloadMode>(['server', 'resumeServer']);

export const median = (xs: number[]) => percentile(xs, 50);

/** Nearest-rank percentile (NaN for no samples). */
export function percentile(xs: number[], p: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

/** Mode switches in one client's history: changes between server, p2p and resumeServer (other modes skipped). */
export function countSwitches(history: Array<{ mode: DownloadMode }>): number {
  let prev: DownloadMode | null = null;
  let n = 0;
  for (const { mode } of history) {
    if (!FETCH_MODES.has(mode)) continue;
    if (prev !== null && prev !== mode) n++;
    prev = mode;
  }
  return n;
}

/**
 * A slot frees when its holder (last fetch mode server or resumeServer) moves on to assembling (a release follows
 * the assembly; on bench-sized files the re-hash takes well under 100 ms) or drops back to p2p (lease lost or
 * revoked, e.g. a slot rotated to a waiter); each entry into resumeServer is measured from the latest such moment
 * before it. A re-open (`opening`) between two fetch modes keeps the holder's mode.
 */
export function resumeLatencies(histories: Array<Array<{ mode: DownloadMode; atMs: number }>>): number[] {
  const releases: number[] = [];
  for (const h of histories) {
    let mode: DownloadMode | null = null;
    for (const e of h) {
      const holding = mode !== null && SLOT_MODES.has(mode);
      const done = e.mode === 'assembling' || e.mode === 'complete' || e.mode === 'failed' || e.mode === 'cancelled';
      if (holding && (done || e.mode === 'p2p')) releases.push(e.atMs);
      if (FETCH_MODES.has(e.mode)) mode = e.mode;
      else if (done) mode = null;
    }
  }
  releases.sort((a, b) => a - b);
  const out: number[] = [];
  for (const h of histories) {
    let prev: DownloadMode | null = null;
    for (const e of h) {
      const entered = e.mode === 'resumeServer' && prev !== 'resumeServer';
      prev = e.mode;
      if (!entered) continue;
      let latest: number | null = null;
      for (const r of releases) if (r <= e.atMs) latest = r;
      if (latest !== null) out.push(e.atMs - latest);
    }
  }
  return out;
}
