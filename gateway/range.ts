/**
 * HTTP `Range` for chunk responses (RFC 9110 §14), pure so it can be tested without a server.
 *
 * Deliberate departures from "ignore what you do not understand" (RFC 9110 §14.2 lets a server ignore an
 * invalid Range and answer 200): a malformed byte range, an unsatisfiable one and a multi-range request all
 * answer 416 `bad_range`. Chunks are at most 4 MiB and clients ask for one slice at a time, so multipart/
 * byteranges would be code without a user; and a client that sent a broken Range is better told so than handed
 * the whole chunk, which it might splice at the wrong offset. A Range in another unit than `bytes` is ignored,
 * as the RFC requires, because that is not malformed, just not ours.
 */
import { RangeNotSatisfiableError } from './errors.js';

export type RangeResult =
  | { kind: 'full' }
  /** inclusive byte offsets, start ≤ end < size */
  | { kind: 'partial'; start: number; end: number };

/** Longer headers are not a single sane byte range; refusing early bounds the work per request. */
const MAX_HEADER_LENGTH = 100;
/** 15 digits stay exact as a JS number; anything longer is far beyond any chunk anyway. */
const SPEC = /^(\d{1,15})?-(\d{1,15})?$/;

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined || header.trim() === '') return { kind: 'full' };
  const unsatisfiable = (why: string) => new RangeNotSatisfiableError(why, size);
  if (header.length > MAX_HEADER_LENGTH) throw unsatisfiable('Range header too long');
  const eq = header.indexOf('=');
  if (eq < 0) throw unsatisfiable('malformed Range header (expected bytes=start-end)');
  const unit = header.slice(0, eq).trim().toLowerCase();
  if (unit !== 'bytes') return { kind: 'full' };
  const set = header.slice(eq + 1).trim();
  if (set.includes(',')) throw unsatisfiable('multiple ranges are not supported; request one range at a time');
  const m = SPEC.exec(set);
  if (!m || (m[1] === undefined && m[2] === undefined)) throw unsatisfiable(`malformed byte range ${JSON.stringify(set)}`);

  if (m[1] === undefined) {
    // suffix range: the last n bytes
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw unsatisfiable('empty suffix range');
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== undefined && Number(m[2]) < start) throw unsatisfiable('range end before range start');
  if (start >= size) throw unsatisfiable(`range starts at ${start}, beyond the ${size}-byte chunk`);
  const end = m[2] === undefined ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { kind: 'partial', start, end };
}

/** `Content-Range` value for a partial answer. */
export function contentRange(r: { start: number; end: number }, size: number): string {
  return `bytes ${r.start}-${r.end}/${size}`;
}
