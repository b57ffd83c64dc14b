/**
 * The dashboard's `live` section (issue 9): one entry per live stream, from the gateway's live directory (the
 * window: edge, segments held, bytes produced, the end and the video the recording became) joined with the live
 * viewers' telemetry (gateway/telemetry.ts): each viewer's playhead state, latency behind the live edge, stalls and
 * bytes by source (origin slot, urgent share, peers), and per stream totals. A stream only viewers report (the
 * directory does not know it, or the gateway has none) is listed with `known: false` and no window figures.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { LiveDirectory } from '../../actors/live/registry.js';
import { liveEdge, LiveViewerStatus, windowDurationSec, type LiveWindow } from '../../protocol/mod.js';
import type { LiveViewerView, TelemetryAggregator } from '../telemetry.js';

const Id = Type.String({ maxLength: 64 });
const Sources = Type.Object({ origin: Type.Number(), urgent: Type.Number(), peer: Type.Number() });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** most streams listed: running ones and ones with viewers first, then the newest */
export const MAX_LIVE_STREAMS = 50;

export const LiveStreamState = Type.Object({
  streamId: Id,
  known: Type.Boolean({ description: 'the live directory knows the stream (else only its viewers report it)' }),
  edgeSeq: Nullable(Type.Integer({ description: 'the newest segment' })),
  edgeAt: Nullable(Type.Number({ description: 'when the newest segment was produced (ms since epoch)' })),
  segments: Type.Integer({ description: 'segments in the window' }),
  windowSec: Type.Number({ description: 'seconds of segments in the window' }),
  producedBytes: Type.Number({ description: 'bytes of every segment produced so far' }),
  startedAt: Nullable(Type.Number()),
  ended: Type.Boolean(),
  videoId: Type.Union([Id, Type.Null()], { description: 'the video the recording became, once ready' }),
  viewers: Type.Array(Type.Object({ ...LiveViewerStatus.properties, stale: Type.Boolean() }),
    { description: 'oldest session first' }),
  totals: Type.Object({
    viewers: Type.Integer({ description: 'viewers reporting (stale ones included)' }),
    bytesBySource: Sources,
    uploaded: Type.Number({ description: 'bytes the viewers uploaded to other viewers' }),
    latencyP50Ms: Nullable(Type.Number({ description: 'median latency behind the edge of the playing, fresh viewers' })),
    stalls: Type.Integer(),
  }),
});
export type LiveStreamState = Static<typeof LiveStreamState>;
export const LiveSection = Type.Array(LiveStreamState, { description: `live streams (at most ${MAX_LIVE_STREAMS})` });

export interface LiveSources {
  live?: Pick<LiveDirectory, 'all'>;
  telemetry?: Partial<Pick<TelemetryAggregator, 'liveViewers'>>;
}

/** The median of the values (the lower one of an even count), null when there are none. */
export function p50(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length / 2) - 1]!;
}

function streamState(streamId: string, w: LiveWindow | undefined, viewers: LiveViewerView[]): LiveStreamState {
  const bytesBySource = { origin: 0, urgent: 0, peer: 0 };
  let uploaded = 0;
  let stalls = 0;
  const latencies: number[] = [];
  for (const v of viewers) {
    bytesBySource.origin += v.bytesBySource.origin;
    bytesBySource.urgent += v.bytesBySource.urgent;
    bytesBySource.peer += v.bytesBySource.peer;
    uploaded += v.uploadedBytes;
    stalls += v.stalls;
    if (!v.stale && v.latencyMs !== null && v.state !== 'joining') latencies.push(v.latencyMs);
  }
  const edgeSeq = w ? liveEdge(w) : null;
  return {
    streamId,
    known: w !== undefined,
    edgeSeq,
    edgeAt: w?.segments[w.segments.length - 1]?.producedAt ?? null,
    segments: w?.segments.length ?? 0,
    windowSec: w ? Math.round(windowDurationSec(w) * 1000) / 1000 : 0,
    producedBytes: w?.producedBytes ?? 0,
    startedAt: w?.startedAt ?? null,
    ended: w?.ended !== undefined,
    videoId: w?.ended?.videoId ?? null,
    viewers,
    totals: { viewers: viewers.length, bytesBySource, uploaded, latencyP50Ms: p50(latencies), stalls },
  };
}

/** The live section: every stream the directory knows or a viewer reports, bounded to MAX_LIVE_STREAMS. */
export function buildLiveSection(src: LiveSources): LiveStreamState[] {
  const windows = new Map<string, LiveWindow>();
  for (const w of src.live?.all() ?? []) windows.set(w.streamId, w);
  const byStream = new Map<string, LiveViewerView[]>();
  for (const v of src.telemetry?.liveViewers?.() ?? []) {
    const list = byStream.get(v.streamId);
    if (list) list.push(v);
    else byStream.set(v.streamId, [v]);
  }
  const ids = new Set([...windows.keys(), ...byStream.keys()]);
  const streams = [...ids].map((id) => streamState(id, windows.get(id), byStream.get(id) ?? []));
  const active = (s: LiveStreamState) => (!s.ended || s.totals.viewers > 0 ? 1 : 0);
  return streams
    .sort((a, b) => active(b) - active(a) || (b.startedAt ?? 0) - (a.startedAt ?? 0) ||
      (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0))
    .slice(0, MAX_LIVE_STREAMS);
}
