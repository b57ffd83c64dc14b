/**
 * One live swarm's settings, for every edge (client/live/node.ts, web/live.ts): what makes a swarm of a live
 * stream differ from a video's is policy, not code.
 */
import type { SwarmInit } from '../p2p/swarm.js';
import type { SwarmContent } from '../p2p/types.js';

/**
 * Parts a live viewer accepts for upload across all its peers, in transfer or queued, before it answers
 * `overloaded` (the requester then asks another holder): two parts are a fraction of a second of upload.
 */
export const LIVE_UPLOAD_QUEUE = 2;

export function liveSwarmInit(o: { streamId: string; peerId: string; content: SwarmContent; uploads?: boolean; maxPeers?: number }): SwarmInit {
  const maxPeers = o.maxPeers ?? 8;
  return {
    videoId: o.streamId, peerId: o.peerId, content: o.content, uploads: o.uploads ?? true, maxPeers,
    // every link unchoked: tit-for-tat starves newcomers, and a live part is worth nothing by the time
    // reciprocity would have earned it; the upload bound (`overloaded`) spreads requests instead
    uploadSlots: 2 * maxPeers,
    requestTimeoutMs: 3000, rechokeMs: 1000, maxQueuedTotal: LIVE_UPLOAD_QUEUE,
  };
}
