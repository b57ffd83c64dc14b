/**
 * What to fetch next, and from where: origin requests under the slot's grant, peer requests by the piece
 * picker, urgent requests without a slot. Pure planners over the context; the machine spawns what they return.
 * A streaming download (a playhead in context) puts deadlines first (playback.ts); offline ones are unchanged.
 */
import { chunkLength, OriginPolicies, type Manifest } from '../../protocol/mod.js';
import type { DownloadContext } from './context.js';
import { originOrder, peerFetchId, pickPeerRequests } from './peers.js';
import { allSent, shareLeft, shareSpent } from './turns.js';
import { deadlineRank, streamingOriginOrder } from './playback.js';
import { fetchChildId, pickMissing } from './schedule.js';
import type { FetchChunkInput } from './types.js';

export { planUrgentFetches, type UrgentPlan } from './playback.js';

/** Fetch children to spawn now, and the context that records them. */
export interface FetchPlan {
  assign: Partial<DownloadContext>;
  spawn: Array<{ id: string; input: FetchChunkInput }>;
}

function fetchInput(ctx: DownloadContext, m: Manifest, index: number, source: FetchChunkInput['source']): FetchChunkInput {
  return { index, hash: m.chunks[index]!, length: chunkLength(m, index), videoId: ctx.videoId, sessionId: ctx.sessionId!,
    grant: ctx.grant ?? '', source };
}

/**
 * Origin requests up to `parallel`. Alongside peers, the origin first sends what no peer can; swarm-aware
 * clients also spread their origin requests over the file, so the origin sends each chunk to someone once
 * instead of the same chunks to everyone. Chunks the origin declined lately are left to the peers.
 */
export function planOriginFetches(ctx: DownloadContext): FetchPlan | null {
  const { manifest, sessionId, grant } = ctx;
  if (manifest === null || sessionId === null || grant === null || shareSpent(ctx) || allSent(ctx)) return null;
  const own = [...ctx.inFlight, ...ctx.backoff];
  const free = Math.min(ctx.parallel - own.length, shareLeft(ctx));
  const busy = [...own, ...ctx.declined, ...ctx.peerInFlight.map((f) => f.index), ...ctx.urgentInFlight];
  const order = (skip: readonly number[], n: number) => ctx.usePeers
    ? originOrder(ctx.have, ctx.peers, skip, n, ctx.policy === OriginPolicies.swarmAware ? ctx.peerId : undefined)
    : pickMissing(ctx.have, skip, n);
  // what the gateway last said it has sent to nobody first: only it knows what the links we lack show nowhere
  const offline = (skip: readonly number[], n: number) => {
    if (!ctx.unsentHint?.length || n <= 0) return order(skip, n);
    const taken = new Set(skip);
    const hinted = ctx.unsentHint.filter((i) => !ctx.have[i] && !taken.has(i)).slice(0, n);
    return hinted.length === 0 ? order(skip, n) : [...hinted, ...order([...skip, ...hinted], n - hinted.length)];
  };
  const picked = ctx.playhead === null ? offline(busy, free) : streamingOriginOrder(ctx, busy, free, offline);
  if (ctx.playhead === null && picked.length < free && !ctx.lease?.turnBytes) {
    picked.push(...endgameRaces(ctx, picked, free - picked.length));
  }
  if (picked.length === 0) return null;
  return {
    assign: { inFlight: [...ctx.inFlight, ...picked] },
    spawn: picked.map((index) => ({ id: fetchChildId(index), input: fetchInput(ctx, manifest, index, 'origin') })),
  };
}

/**
 * The endgame: every missing chunk is on its way from peers, and origin requests are free. The oldest peer
 * requests are raced from the origin too (the first verified copy wins, the other request is stopped): a last
 * chunk otherwise arrives at one busy peer's pace while the origin idles (measured: the origin's last ~1.2 s of
 * a generous crowd). Not during a turn: the origin is contended then, and a swarm-aware gateway declines second
 * copies anyway; it also declines one while a holder with spare upload could send it.
 */
function endgameRaces(ctx: DownloadContext, picked: readonly number[], n: number): number[] {
  const taken = new Set([...picked, ...ctx.inFlight, ...ctx.backoff, ...ctx.declined, ...ctx.urgentInFlight]);
  const out: number[] = [];
  for (const f of ctx.peerInFlight) {
    if (out.length >= n) break;
    if (taken.has(f.index)) continue;
    taken.add(f.index);
    out.push(f.index);
  }
  return out;
}

/** Peer requests by the piece picker (peers.ts), when peers are in use. */
export function planPeerFetches(ctx: DownloadContext): FetchPlan | null {
  const { manifest, sessionId } = ctx;
  if (!ctx.usePeers || manifest === null || sessionId === null) return null;
  const picked = pickPeerRequests({ self: ctx.peerId, have: ctx.have, peers: ctx.peers, peerInFlight: ctx.peerInFlight,
    originBusy: [...ctx.inFlight, ...ctx.backoff, ...ctx.urgentInFlight], perPeer: ctx.perPeer, maxSources: ctx.maxSources,
    deadline: deadlineRank(ctx) });
  if (picked.length === 0) return null;
  return {
    assign: { peerInFlight: [...ctx.peerInFlight, ...picked] },
    spawn: picked.map((f) => ({ id: peerFetchId(f.index, f.peerId), input: fetchInput(ctx, manifest, f.index, `peer:${f.peerId}`) })),
  };
}

