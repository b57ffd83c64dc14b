/**
 * Streams a byte range of a video that is still downloading: chunk by chunk, each one waited for until it is
 * verified on disk, read back through the partial store (which hashes it again), cut to the range and written
 * as soon as it is there, so a player gets its first bytes while the rest of its range is still on the way.
 * Every wait is bounded (`stallMs` without progress aborts), and the caller's signal stops everything at once
 * (the player went away, or the server is stopping).
 */
import type { Writable } from 'node:stream';
import { TimeoutError, chunksOfRange } from '../../protocol/mod.js';
import type { PartialDownload } from '../partial.js';

export interface RangeBodyInit {
  /** inclusive byte range of the file */
  start: number;
  end: number;
  /** longest wait for one chunk, or for the player to take the bytes already written */
  stallMs: number;
}

export interface RangeBodyComponents {
  partial: PartialDownload;
  signal: AbortSignal;
  /** told the chunk the reader needs next whenever it must wait for one (the download's playhead) */
  onWait(index: number): void;
}

/** Waits for `p`, at most `ms`, rejecting with TimeoutError(`what`) or the signal's reason. */
async function bounded<T>(p: (signal: AbortSignal) => Promise<T>, ms: number, signal: AbortSignal, what: string): Promise<T> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new TimeoutError(`${what} took over ${ms} ms`)), ms);
  try {
    return await p(AbortSignal.any([signal, timeout.signal]));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The verified bytes of the range's first chunk, cut to the range: awaited before the response head is sent, so
 * a download that never brings it can still be answered 503 instead of a truncated 206.
 */
export async function firstPiece(init: RangeBodyInit, c: RangeBodyComponents): Promise<Uint8Array> {
  const { first } = chunksOfRange(c.partial.manifest.chunkSize, init.start, init.end - init.start + 1);
  return piece(first, init, c);
}

async function piece(index: number, init: RangeBodyInit, c: RangeBodyComponents): Promise<Uint8Array> {
  const { partial } = c;
  if (!partial.hasChunk(index)) {
    c.onWait(index);
    await bounded((s) => partial.whenChunk(index, s), init.stallMs, c.signal, `waiting for chunk ${index}`);
  }
  // readChunk re-verifies; a chunk that changed on disk throws ChunkCorruptError and ends this response
  const data = await partial.readChunk(index);
  const at = index * partial.manifest.chunkSize;
  const from = Math.max(init.start, at) - at;
  const to = Math.min(init.end + 1, at + data.byteLength) - at;
  return data.subarray(from, to);
}

/** Resolves when `out` drained, bounded like a chunk wait. */
function drained(out: Writable, ms: number, signal: AbortSignal): Promise<void> {
  return bounded((s) => new Promise<void>((resolve, reject) => {
    const done = () => {
      s.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = () => {
      out.removeListener('drain', done);
      reject(s.reason);
    };
    out.once('drain', done);
    s.addEventListener('abort', onAbort, { once: true });
  }), ms, signal, 'the player reading');
}

/**
 * Writes the whole range to `out`, starting with `head` (the result of firstPiece). Resolves when every byte
 * was handed to `out`; rejects on a stall, an abort or a chunk that no longer verifies.
 */
export async function writeRange(out: Writable, head: Uint8Array, init: RangeBodyInit, c: RangeBodyComponents):
  Promise<void> {
  const { first, last } = chunksOfRange(c.partial.manifest.chunkSize, init.start, init.end - init.start + 1);
  let data = head;
  for (let i = first; ; ) {
    if (c.signal.aborted) throw c.signal.reason;
    if (!out.write(data)) await drained(out, init.stallMs, c.signal);
    if (++i > last) return;
    data = await piece(i, init, c);
  }
}
