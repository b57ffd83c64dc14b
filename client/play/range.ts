/**
 * HTTP Range for the local player server (RFC 9110 §14): one `bytes=` range, in its three forms (`a-b`, `a-`,
 * `-n`). Several ranges, other units and malformed values are answered 416 like unsatisfiable ones, the gateway's
 * policy too: a player asks for one range at a time, and a precise refusal beats a silent whole-file answer.
 */

/** The outcome of reading a Range header against a file of `size` bytes. */
export type RangeRequest =
  /** no Range header: the whole file, 200 */
  | { kind: 'whole' }
  /** bytes `[start, end]` inclusive, 206 */
  | { kind: 'range'; start: number; end: number }
  /** 416, with a Content-Range naming only the size */
  | { kind: 'unsatisfiable' };

const MAX_HEADER = 200;

export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'whole' };
  if (header.length > MAX_HEADER) return { kind: 'unsatisfiable' };
  const m = /^\s*bytes\s*=\s*(\d{0,16})\s*-\s*(\d{0,16})\s*$/i.exec(header);
  if (!m) return { kind: 'unsatisfiable' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'unsatisfiable' };
  if (a === '') {
    // suffix: the last n bytes (all of them when n exceeds the size)
    const n = Number(b);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return { kind: 'unsatisfiable' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end };
}
