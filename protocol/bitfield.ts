/**
 * Chunk bitfields: bit i set = chunk i held and verified. The bit order (MSB first within each byte) is part of
 * the wire format, the tracker's records and the dashboard, so it is written down here and nowhere else.
 * Base64 is implemented here rather than with Buffer/atob so the module runs in any JS runtime unchanged.
 */

/** Mask of bit `i` within its byte: chunk 0 is the most significant bit of byte 0. */
export const bitMask = (i: number): number => 0x80 >> (i & 7);

export const bitfieldBytes = (count: number): number => Math.ceil(count / 8);

export function testBit(bytes: Uint8Array, i: number, offset = 0): boolean {
  return ((bytes[offset + (i >> 3)] ?? 0) & bitMask(i)) !== 0;
}

export function setBit(bytes: Uint8Array, i: number, offset = 0): void {
  bytes[offset + (i >> 3)]! |= bitMask(i);
}

/** Writes `have` into `out` at `offset` (bytes there must be zero); returns `out`. */
export function packBits(
  have: ArrayLike<boolean>, out: Uint8Array = new Uint8Array(bitfieldBytes(have.length)), offset = 0,
): Uint8Array {
  for (let i = 0; i < have.length; i++) if (have[i]) setBit(out, i, offset);
  return out;
}

/** The first `count` bits from `offset`; bits beyond the bytes given read as not held. */
export function unpackBits(bytes: Uint8Array, count: number, offset = 0): boolean[] {
  const out = new Array<boolean>(count);
  for (let i = 0; i < count; i++) out[i] = testBit(bytes, i, offset);
  return out;
}

/** Calls `fn` for every set bit below `count`, skipping zero bytes (bitfields are sparse while downloading). */
export function forEachSetBit(bytes: Uint8Array, count: number, fn: (i: number) => void): void {
  const n = Math.min(bytes.length, bitfieldBytes(count));
  for (let b = 0; b < n; b++) {
    const v = bytes[b]!;
    if (v === 0) continue;
    for (let k = 0; k < 8; k++) {
      const i = (b << 3) + k;
      if (i < count && v & bitMask(k)) fn(i);
    }
  }
}

/** True when no bit at or past `count` is set in the last byte (a sender claiming chunks that do not exist). */
export function spareBitsClear(bytes: Uint8Array, count: number, offset = 0): boolean {
  const spare = count & 7;
  const last = offset + bitfieldBytes(count) - 1;
  return spare === 0 || ((bytes[last] ?? 0) & (0xff >> spare)) === 0;
}

const POP = new Uint8Array(256);
for (let i = 1; i < 256; i++) POP[i] = (i & 1) + POP[i >> 1]!;

export function popcount(bytes: Uint8Array): number {
  let n = 0;
  for (let b = 0; b < bytes.length; b++) n += POP[bytes[b]!]!;
  return n;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LOOKUP = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  LOOKUP[ALPHABET.charCodeAt(i)] = i;
  LOOKUP[URL_ALPHABET.charCodeAt(i)] = i;
}

/** Standard base64 with padding, or base64url without (as Node's 'base64url'). */
export function toBase64(bytes: Uint8Array, url = false): string {
  const abc = url ? URL_ALPHABET : ALPHABET;
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += abc[n >> 18]! + abc[(n >> 12) & 63]! + abc[(n >> 6) & 63]! + abc[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += abc[n >> 18]! + abc[(n >> 12) & 63]! + (url ? '' : '==');
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += abc[n >> 18]! + abc[(n >> 12) & 63]! + abc[(n >> 6) & 63]! + (url ? '' : '=');
  }
  return out;
}

/**
 * Decodes base64 or base64url, padded or not. Returns null for characters outside both alphabets or an
 * impossible length; it does not insist on canonical form (callers that must, re-encode and compare).
 */
export function fromBase64(s: string): Uint8Array | null {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61 /* = */ && s.length - end < 2) end--;
  if (end % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? LOOKUP[c]! : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** Base64 of a bitfield, as carried in tracker announces and peer status. */
export function encodeBitfield(have: ArrayLike<boolean>): string {
  return toBase64(packBits(have));
}

/** The first `count` bits of a base64 bitfield; malformed base64 reads as nothing held. */
export function decodeBitfield(b64: string, count: number): boolean[] {
  return unpackBits(fromBase64(b64) ?? new Uint8Array(0), count);
}
