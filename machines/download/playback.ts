/**
 * Deadline-aware picking for streaming downloads (issue 8 item 2), as pure rules over the machine's context.
 * A player reads at the playhead; the chunks it needs next have deadlines, the rest do not:
 *
 * - the urgent window [playhead, playhead + urgentWindow) comes from the origin at once: under the slot's grant
 *   when admitted (first in the origin's order), else under urgent grants (`fetchUrgent` children, served from
 *   the gateway's small reserved share; they hold no slot);
 * - the rest of the buffer window [playhead, playhead + bufferWindow) comes from peers first, nearest deadline
 *   first (the peer picker ranks these chunks by distance from the playhead);
 * - beyond the buffer, and for chunks the player already passed, rarest first as offline;
 * - a seek moves both windows at once: urgent fetches left outside the new urgent window are stopped (the
 *   reserved share is for what the player needs now), and when the new window needs the slot's capacity, origin
 *   fetches outside the new buffer are cancelled, furthest first.
 *
 * Without a playhead (offline `get`) none of this applies and every function here is a no-op.
 */
import { chunkLength } from '../../protocol/mod.js';
import type { DownloadContext, Effects } from './context.js';
import type { DeadlineRank } from './peers.js';
import { fetchChildId, urgentChildId } from './schedule.js';
import type { FetchUrgentInput } from './types.js';

/** Rank of a chunk with no deadline (outside the buffer window): after every chunk that has one. */
export const NO_DEADLINE = Number.MAX_SAFE_INTEGER;

type Windowed = Pick<DownloadContext, 'playhead' | 'urgentWindow' | 'bufferWindow' | 'have'>;
type Busy = Pick<DownloadContext, 'inFlight' | 'backoff' | 'urgentInFlight' | 'peerInFlight'>;

/** [start, end) of the urgent window; null without a playhead. */
export function urgentRange(ctx: Windowed): [number, number] | null {
  if (ctx.playhead === null) return null;
  return [ctx.playhead, Math.min(ctx.have.length, ctx.playhead + ctx.urgentWindow)];
}

/** [start, end) of the buffer window (it includes the urgent window); null without a playhead. */
export function bufferRange(ctx: Windowed): [number, number] | null {
  if (ctx.playhead === null) return null;
  return [ctx.playhead, Math.min(ctx.have.length, ctx.playhead + ctx.bufferWindow)];
}

/**
 * The peer picker's deadline rank: chunks in the buffer window by distance from the playhead, others last. It
 * names its window, so the incremental picker (pieceIndex.ts) ranks the window without calling it per chunk.
 */
export function deadlineRank(ctx: Windowed): DeadlineRank | undefined {
  const b = bufferRange(ctx);
  if (b === null) return undefined;
  return Object.assign((i: number) => (i >= b[0] && i < b[1] ? i - b[0] : NO_DEADLINE), { window: b } as const);
}

/** True when `index` is a jump out of the current urgent window (or the first playhead): a seek. */
export function isSeek(ctx: Windowed, index: number): boolean {
  return ctx.playhead === null || index < ctx.playhead || index >= ctx.playhead + ctx.urgentWindow;
}

/** Missing chunks of the urgent window that nothing is fetching, in playback order. */
export function urgentNeeds(ctx: Windowed & Busy): number[] {
  const u = urgentRange(ctx);
  if (u === null) return [];
  const busy = new Set([...ctx.inFlight, ...ctx.backoff, ...ctx.urgentInFlight, ...ctx.peerInFlight.map((f) => f.index)]);
  const out: number[] = [];
  for (let i = u[0]; i < u[1]; i++) if (!ctx.have[i] && !busy.has(i)) out.push(i);
  return out;
}

/** Up to `free` missing chunks not in `skip`, from `from` to the end, then from the start (already passed: last). */
function playbackOrder(have: readonly boolean[], from: number, skip: ReadonlySet<number>, free: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < have.length && out.length < free; k++) {
    const i = (from + k) % have.length;
    if (!have[i] && !skip.has(i)) out.push(i);
  }
  return out;
}

/**
 * The order a streaming download asks the origin for chunks under its slot: the urgent window first, then
 * `rest` (the offline order alongside peers), or, origin-only, playback order from the playhead.
 */
export function streamingOriginOrder(
  ctx: Windowed & Pick<DownloadContext, 'usePeers'>,
  busy: readonly number[],
  free: number,
  rest: (busy: readonly number[], free: number) => number[],
): number[] {
  if (free <= 0 || ctx.playhead === null) return [];
  const skip = new Set(busy);
  const u = urgentRange(ctx)!;
  const first: number[] = [];
  for (let i = u[0]; i < u[1] && first.length < free; i++) if (!ctx.have[i] && !skip.has(i)) first.push(i);
  if (first.length >= free) return first;
  if (ctx.usePeers) return [...first, ...rest([...busy, ...first], free - first.length)];
  for (const i of first) skip.add(i);
  return [...first, ...playbackOrder(ctx.have, ctx.playhead, skip, free - first.length)];
}

/** Urgent fetches to start now, and the context that records them. */
export interface UrgentPlan {
  assign: Partial<DownloadContext>;
  spawn: Array<{ id: string; input: FetchUrgentInput }>;
}

/**
 * Urgent fetches: only without a slot (with one, the slot's grant serves the urgent window first), not while
 * paused after a refusal, at most the urgent window's size at once.
 */
export function planUrgentFetches(ctx: DownloadContext): UrgentPlan | null {
  const { manifest, sessionId } = ctx;
  if (manifest === null || sessionId === null || ctx.grant !== null || ctx.urgentPaused) return null;
  const picked = urgentNeeds(ctx).slice(0, Math.max(0, ctx.urgentWindow - ctx.urgentInFlight.length));
  if (picked.length === 0) return null;
  return {
    assign: { urgentInFlight: [...ctx.urgentInFlight, ...picked] },
    spawn: picked.map((index) => ({ id: urgentChildId(index), input: {
      index, hash: manifest.chunks[index]!, length: chunkLength(manifest, index), videoId: ctx.videoId, sessionId,
    } })),
  };
}

/** The playhead moved: urgent fetches that fell out of the urgent window stop (they were for another moment). */
export function movePlayhead(ctx: DownloadContext, index: number): Effects {
  const count = ctx.have.length;
  const playhead = count > 0 ? Math.min(Math.max(0, Math.floor(index)), count - 1) : Math.max(0, Math.floor(index));
  const u = urgentRange({ ...ctx, playhead })!;
  const keep = ctx.urgentInFlight.filter((i) => i >= u[0] && i < u[1]);
  return {
    stop: ctx.urgentInFlight.filter((i) => !keep.includes(i)).map(urgentChildId),
    assign: { playhead, urgentInFlight: keep },
  };
}

/**
 * After a seek, while a slot is held: when the new urgent window needs more origin requests than are free,
 * origin fetches outside the new buffer window are cancelled (furthest ahead first, already-passed chunks
 * before those) to make room; they are picked again later.
 */
export function makeRoomForUrgent(ctx: DownloadContext): Effects {
  const b = bufferRange(ctx);
  if (ctx.grant === null || b === null) return { stop: [], assign: {} };
  const free = ctx.parallel - ctx.inFlight.length - ctx.backoff.length;
  let excess = urgentNeeds(ctx).length - free;
  const distance = (i: number) => (i < b[0] ? NO_DEADLINE : i - b[0]);
  const far = ctx.inFlight.filter((i) => i < b[0] || i >= b[1]).sort((x, y) => distance(y) - distance(x));
  const cancel: number[] = [];
  for (const i of far) {
    if (excess <= 0) break;
    cancel.push(i);
    excess--;
  }
  return { stop: cancel.map(fetchChildId), assign: { inFlight: ctx.inFlight.filter((i) => !cancel.includes(i)) } };
}
