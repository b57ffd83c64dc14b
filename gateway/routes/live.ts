/**
 * The live segment route: a segment of a live stream's window, by `seq`, under either kind of grant. A slot
 * grant (an admitted viewer: `origin.open` on the stream) needs its session to still hold the slot, like the
 * chunk route, and is charged to the session's byte budget (about one copy of everything the stream produced);
 * an urgent grant must name the segment and is served from the reserved urgent share, like the urgent route.
 * Segments are immutable (content-addressed), so the response carries the hash for the viewer's check.
 */
import type { FastifyPluginAsync } from 'fastify';
import { awaitEgress } from '../egress.js';
import { Type } from '@sinclair/typebox';
import type { LeaseChecker } from '../../actors/origin/leases.js';
import type { LiveDirectory } from '../../actors/live/registry.js';
import type { Clock } from '../../lib/clock.js';
import { verifyGrant } from '../../lib/hash.js';
import type { TokenBucket } from '../../lib/tokenbucket.js';
import {
  BadIndexError, ChunkCorruptError, ErrorCodes, GrantError, isUrgentClaims, segmentInWindow, UnavailableError, VideoId,
  type GrantClaims,
} from '../../protocol/mod.js';
import type { ChunkStore } from '../../store/types.js';
import type { ActivityPublisher } from '../activity.js';
import { grantToken } from '../auth.js';
import type { SessionBudget } from '../budget.js';
import { contentRange, parseRange } from '../range.js';
import { binary, ChunkHeaders, ChunkQuery, errorResponses, Tags } from '../schemas.js';
import type { StatsCollector } from '../stats.js';
import type { UrgentShare } from '../urgent.js';

export interface LiveRoutesOptions {
  grantSecret: string;
  live: Pick<LiveDirectory, 'get'>;
  leases: Pick<LeaseChecker, 'holds'>;
  store: ChunkStore;
  clock: Clock;
  stats: StatsCollector;
  share: UrgentShare;
  budget: SessionBudget;
  egress?: TokenBucket;
  activity?: Pick<ActivityPublisher, 'served'>;
}

const SEQ = /^(0|[1-9][0-9]{0,8})$/;
export const LIVE_SEGMENT_ROUTE = '/live/:id/segments/:seq';

const LiveParams = Type.Object({
  id: VideoId,
  seq: Type.String({ maxLength: 32, description: 'segment sequence number (as announced)' }),
});

export const liveRoutes: FastifyPluginAsync<LiveRoutesOptions> = async (app, opts) => {
  const holds = async (claims: GrantClaims) => {
    try {
      return await opts.leases.holds(claims);
    } catch (cause) {
      throw new UnavailableError('cannot check the lease', { cause });
    }
  };

  app.get<{ Params: { id: string; seq: string }; Querystring: { grant?: string }; Headers: { range?: string } }>(LIVE_SEGMENT_ROUTE, {
    schema: {
      tags: [Tags.chunks],
      summary: 'Fetch one segment of a live stream with a slot grant (admitted viewer) or an urgent grant naming it',
      description: 'The grant comes from `origin.open` on the stream id (slot) or `sy.origin.urgent.<peer>` (urgent). ' +
        'Verify the bytes against the SHA-256 announced on `sy.live.<id>.segment` (a Range of one part against ' +
        'that part\'s hash: an admitted viewer fetches parts, so it can relay the first before the last arrives).',
      security: [{ grant: [] }, { grantQuery: [] }],
      params: LiveParams,
      querystring: ChunkQuery,
      headers: ChunkHeaders,
      response: { 200: binary('the whole segment'), 206: binary('the requested byte range of the segment'),
        ...errorResponses(400, 401, 403, 404, 409, 416, 429, 503) },
    },
  }, async (request, reply) => {
    const { id, seq: rawSeq } = request.params;
    const claims = verifyGrant(grantToken(request.headers, request.query), opts.grantSecret,
      { now: opts.clock.now(), videoId: id, kind: 'any' });
    if (!SEQ.test(rawSeq)) throw new BadIndexError(`segment seq must be a non-negative integer, got ${JSON.stringify(rawSeq)}`);
    const seq = Number(rawSeq);
    const urgent = isUrgentClaims(claims);
    if (urgent && !(claims.c ?? []).includes(seq)) {
      throw new GrantError(ErrorCodes.grantWrongKind, `this urgent grant does not cover segment ${seq}`);
    }
    if (!urgent && !(await holds(claims))) {
      throw new GrantError(ErrorCodes.leaseLost, 'this session no longer holds an origin slot; fetch from peers or wait for a slot');
    }
    const w = await opts.live.get(id);
    const seg = segmentInWindow(w, seq);
    if (!seg) throw new BadIndexError(`segment ${seq} is not in the window of ${id}`);
    const bytes = await opts.store.get(seg.sha256);
    if (bytes.byteLength !== seg.length) throw new ChunkCorruptError(`segment ${seq} has ${bytes.byteLength} bytes, announced ${seg.length}`);
    reply.headers({
      'content-type': 'video/iso.segment',
      etag: `"${seg.sha256}"`,
      'x-chunk-sha256': seg.sha256,
      'cache-control': 'private, max-age=3600, immutable',
      'x-content-type-options': 'nosniff',
    });
    // urgent grants are for a whole segment, needed now: no Range
    const range = urgent ? { kind: 'full' as const } : parseRange(request.headers.range, seg.length);
    const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = range.kind === 'full' ? body : body.subarray(range.start, range.end + 1);
    reply.header('accept-ranges', urgent ? 'none' : 'bytes');
    if (range.kind === 'partial') reply.code(206).header('content-range', contentRange(range, seg.length));
    if (request.method === 'HEAD') return reply.send();
    const n = out.byteLength;
    if (urgent) opts.share.admit(claims, seg.length);
    // about one copy of everything produced so far (plus the budget's slack): a slot is not a firehose
    else opts.budget.charge(claims.s, n, { size: w.producedBytes, chunkSize: Math.max(seg.length, 1) });
    if (!(await awaitEgress(reply, opts.egress, n))) {
      if (urgent) opts.share.refund(claims, seg.length);
      else opts.budget.refund(claims.s, n);
      return reply;
    }
    reply.raw.once('finish', () => {
      if (urgent) opts.stats.urgentServed(claims.s, n);
      else opts.stats.chunkServed(claims.s, n);
      if (!urgent) opts.activity?.served(claims.s);
    });
    return reply.send(out);
  });
};
