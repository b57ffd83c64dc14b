/**
 * What the watch page finds in its own HTML (`<script type="application/json" id="sy-boot">`), so it can start
 * playing before it has joined anything: the NATS WebSocket URL, the video's manifest (self-certifying: the page
 * checks its root hash against the id in its URL, as it would a manifest from the catalog) and, when the gateway
 * keeps an urgent share, a start grant: an urgent grant for the init segment and the first seconds of the stream,
 * so the first frame needs one HTTP round trip instead of a credential, a NATS connection and a session first.
 */
import { Type, type Static } from '@sinclair/typebox';
import { chunksOfRange, type StreamInfo } from './stream.js';

export const StartGrant = Type.Object({
  /** an urgent grant (kind `u`) naming exactly `chunks`; the gateway's urgent share pays for them */
  grant: Type.String({ minLength: 1, maxLength: 8192 }),
  chunks: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 256 }),
  /** ms since the epoch */
  expiresAt: Type.Integer({ minimum: 0 }),
});
export type StartGrant = Static<typeof StartGrant>;

/**
 * A live stream's page (the id is a stream the gateway's live directory knows): no manifest and no start grant;
 * the page joins the stream's window over NATS and checks every segment against its announced hash.
 */
export const LiveBoot = Type.Object({
  /** the packager's target segment duration, seconds */
  segmentSec: Type.Number({ exclusiveMinimum: 0, maximum: 30 }),
  /** RFC 6381 codecs of the stream, when the packager knows them */
  codecs: Type.Optional(Type.String({ maxLength: 200 })),
  /** the latency mode the page starts in unless its `?mode=` says otherwise (protocol/live.ts LiveModes) */
  mode: Type.Optional(Type.Union([Type.Literal('low'), Type.Literal('default'), Type.Literal('p2p')])),
  /** the stream had ended when the page was served (its window still plays, to the end) */
  ended: Type.Optional(Type.Boolean()),
});
export type LiveBoot = Static<typeof LiveBoot>;

export const WatchBoot = Type.Object({
  natsWsUrl: Type.Optional(Type.String({ maxLength: 2048 })),
  /** the catalog's manifest, unchecked: the page checks it (root hash, id) before trusting a byte */
  manifest: Type.Optional(Type.Unknown()),
  start: Type.Optional(StartGrant),
  /** present only for a live stream (then there is never a manifest or a start grant) */
  live: Type.Optional(LiveBoot),
});
export type WatchBoot = Static<typeof WatchBoot>;

/**
 * The chunks a player needs first: the init segment and whole media segments from the start until `seconds` of
 * video are covered, at most `maxChunks` (whole segments only, so a segment read never waits half on the start
 * grant and half on the swarm). Empty when even the init segment and the first segment do not fit.
 */
export function startWindow(stream: StreamInfo, chunkSize: number, seconds: number, maxChunks: number): number[] {
  const init = chunksOfRange(chunkSize, stream.init.offset, stream.init.length);
  let last = -1;
  let covered = 0;
  for (const seg of stream.segments) {
    if (last >= 0 && covered >= seconds) break;
    const r = chunksOfRange(chunkSize, seg.offset, seg.length);
    if (r.last - init.first + 1 > maxChunks) break;
    last = r.last;
    covered += seg.durationSec;
  }
  if (last < 0) return [];
  const out: number[] = [];
  for (let i = init.first; i <= last; i++) out.push(i);
  return out;
}

/**
 * The start window's chunks the first frame needs (the init segment and the first media segment): the page
 * fetches these first, and its HTML asks the browser to preload them while the script is still loading.
 */
export function firstFrameChunks(stream: StreamInfo, chunkSize: number, window: readonly number[]): number[] {
  const seg = stream.segments[0]!;
  const last = chunksOfRange(chunkSize, 0, seg.offset + seg.length).last;
  return window.filter((i) => i <= last);
}

/**
 * Where a start chunk is fetched, the grant in the query: a preload (`<link rel="preload" as="fetch">`) sends no
 * headers, and the page's fetch must ask for exactly the preloaded URL to be given its response.
 */
export function startChunkPath(videoId: string, index: number, grant: string): string {
  return `/videos/${encodeURIComponent(videoId)}/urgent/${index}?grant=${encodeURIComponent(grant)}`;
}
