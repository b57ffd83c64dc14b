/**
 * A streaming download's side of deadline-aware picking: the player's windows in seconds become chunk counts
 * (using the manifest's `stream` segments for the average bitrate), and the urgent fetch: an urgent grant from
 * the origin (no slot) and then the chunk from the gateway's urgent route, verified like any chunk.
 */
import type { OriginClient } from '../actors/origin/client.js';
import type { TokenBucket } from '../lib/tokenbucket.js';
import { toFetchFailure } from '../machines/download/schedule.js';
import type { FetchChunkFailure, FetchResult, FetchUrgentInput, StreamingInput } from '../machines/download/types.js';
import { ErrorCodes, streamDuration, SwitchyardError, type Manifest } from '../protocol/mod.js';
import { fetchOriginChunk } from './http.js';
import type { PartialDownload } from './partial.js';

/** What `runDownload` accepts for a streaming download: windows in chunks, or in seconds of playback. */
export interface StreamingOptions extends StreamingInput {
  /** the urgent window in seconds (used when `urgentChunks` is not given) */
  urgentSec?: number;
  /** the buffer target in seconds (used when `bufferChunks` is not given) */
  bufferSec?: number;
}

/** Chunks that hold `sec` seconds of playback, from the stream's average bitrate; undefined without a stream. */
export function chunksForSeconds(m: Manifest, sec: number): number | undefined {
  if (!m.stream || !(sec > 0)) return undefined;
  const duration = streamDuration(m.stream);
  if (!(duration > 0)) return undefined;
  const mediaBytes = m.stream.segments.reduce((n, s) => n + s.length, 0);
  return Math.max(1, Math.ceil(((mediaBytes / duration) * sec) / m.chunkSize));
}

/** The machine's streaming input: chunk counts win, seconds are converted, the machine's defaults fill the rest. */
export function streamingInput(m: Manifest, o: StreamingOptions): StreamingInput {
  const urgent = o.urgentChunks ?? (o.urgentSec !== undefined ? chunksForSeconds(m, o.urgentSec) : undefined);
  const buffer = o.bufferChunks ?? (o.bufferSec !== undefined ? chunksForSeconds(m, o.bufferSec) : undefined);
  return {
    ...(urgent !== undefined ? { urgentChunks: urgent } : {}),
    ...(buffer !== undefined ? { bufferChunks: buffer } : {}),
    ...(o.playhead !== undefined ? { playhead: o.playhead } : {}),
  };
}

/** Codes with which the origin says "no urgent grant now": the machine pauses urgent requests, peers cover. */
const REFUSALS = new Set<string>([ErrorCodes.rateLimited, ErrorCodes.urgentRefused, ErrorCodes.urgentShareSpent,
  ErrorCodes.unknownSession, ErrorCodes.quotaExceeded]);

function urgentFailure(err: unknown): FetchChunkFailure {
  if (err instanceof SwitchyardError && REFUSALS.has(err.code)) return { reason: 'refused', message: err.message, code: err.code };
  return toFetchFailure(err);
}

/** One urgent chunk: grant, fetch, verify, store. Resolves with the outcome; never rejects (the machine's contract). */
export async function fetchUrgentChunk(
  input: FetchUrgentInput,
  c: { origin: OriginClient; partial: PartialDownload; gateway: string; peerId: string; limiter?: TokenBucket;
    noteHave?: (index: number) => void; signal: AbortSignal },
): Promise<FetchResult> {
  const base = { index: input.index, source: 'origin' as const };
  try {
    if (c.limiter) await c.limiter.take(input.length, c.signal);
    const g = await c.origin.urgent(input.sessionId, c.peerId, input.videoId, [input.index]);
    const data = await fetchOriginChunk({ gateway: c.gateway, videoId: input.videoId, index: input.index, grant: g.grant,
      signal: c.signal, route: 'urgent' });
    if (!(await c.partial.writeChunk(input.index, data))) {
      return { ...base, ok: false, failure: { reason: 'corrupt', message: `urgent chunk ${input.index} failed verification` } };
    }
    c.noteHave?.(input.index);
    return { ...base, ok: true, bytes: data.byteLength };
  } catch (err) {
    return { ...base, ok: false, failure: urgentFailure(err) };
  }
}
