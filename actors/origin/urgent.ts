/**
 * Urgent grants (issue 8 item 2): a streaming client whose playhead is about to run dry may ask the origin for
 * the few chunks right at the playhead even while the origin is full. The grant holds no slot: it is a
 * short-lived HMAC token of kind `u` (protocol/grant.ts) for exactly those chunks and their total bytes, and
 * the gateway serves it only out of a small reserved bandwidth share (gateway/urgent.ts), so urgent traffic can
 * never crowd out the slot holders. Any live session of the sender, waiting or admitted, may ask.
 */
import {
  BadIndexError, BadRequestError, UnknownSessionError, UrgentRefusedError, urgentClaims,
  type Manifest, type UrgentReply, type UrgentTarget,
} from '../../protocol/mod.js';
import { signGrant } from '../../lib/hash.js';
import type { Clock } from '../../lib/clock.js';
import type { Admission } from './admission.js';

export interface UrgentInit {
  /** chunks one urgent grant may cover; 0 disables urgent grants (every request is refused) */
  maxChunks: number;
  /** lifetime of an urgent grant: long enough to fetch its chunks, short enough not to be hoarded */
  grantTtlMs: number;
  grantSecret: string;
}

/** Counters of one origin worker's urgent grants (admission metrics; the gateway counts the bytes served). */
export interface UrgentStats {
  grants: number;
  /** bytes the issued grants cover */
  bytes: number;
  refused: number;
}

export interface UrgentIssuer {
  /** for a video's chunks (its manifest) or a live stream's segments (an UrgentTarget over its window) */
  issue(req: { sessionId: string; peerId: string; videoId: string; chunks: number[] }, target: Manifest | UrgentTarget): Promise<UrgentReply>;
  /** a refusal decided before `issue` (the per-peer rate limit), so the counters see every refusal */
  refused(): void;
  stats(): UrgentStats;
}

export const URGENT_DEFAULTS = {
  maxChunks: 4, grantTtlMs: 5000,
  /** per peer and worker: a player asks about once per segment; a loop gets rate_limited */
  requestsPerSecond: 8, requestsBurst: 16,
} as const;

export function createUrgentIssuer(init: UrgentInit, c: { admission: Pick<Admission, 'session'>; clock: Clock }): UrgentIssuer {
  const stats: UrgentStats = { grants: 0, bytes: 0, refused: 0 };
  const issue: UrgentIssuer['issue'] = async (req, target) => {
    if (init.maxChunks <= 0) throw new UrgentRefusedError('urgent grants are disabled on this deployment (no urgent share)');
    const chunks = [...new Set(req.chunks)];
    if (chunks.length > init.maxChunks) {
      throw new UrgentRefusedError(`at most ${init.maxChunks} chunks per urgent grant, ${chunks.length} asked`);
    }
    const s = await c.admission.session(req.sessionId);
    if (!s || s.peerId !== req.peerId) throw new UnknownSessionError(req.sessionId);
    if (s.videoId !== req.videoId) throw new BadRequestError('the session is for another video');
    if ('chunks' in target) {
      for (const i of chunks) {
        if (i >= target.chunks.length) throw new BadIndexError(`chunk ${i} is past the end (${target.chunks.length} chunks)`);
      }
    } else {
      for (const i of chunks) if (target.lengthOf(i) === undefined) throw new BadIndexError(`segment ${i} is not in the live window`);
    }
    const expiresAt = c.clock.now() + init.grantTtlMs;
    const claims = urgentClaims(target, chunks, req, expiresAt);
    const grant = signGrant(claims, init.grantSecret);
    const bytes = claims.b!;
    stats.grants++;
    stats.bytes += bytes;
    return { grant, chunks, bytes, expiresAt };
  };
  return {
    async issue(req, target) {
      try {
        return await issue(req, target);
      } catch (err) {
        stats.refused++;
        throw err;
      }
    },
    refused: () => void stats.refused++,
    stats: () => ({ ...stats }),
  };
}
