/**
 * Chunk bitfields: bit i set = chunk i held and verified. The bit order (MSB first within each byte) is part of
 * the wire format, the tracker's records and the dashboard, so it is written down here and nowhere else.
 */
import { fromBase64, toBase64 } from './base64.js';

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

/** Base64 of a bitfield, as carried in tracker announces and peer status. */
export function encodeBitfield(have: ArrayLike<boolean>): string {
  return toBase64(packBits(have));
}

/** Base64 of a bitfield of `count` bits with exactly the indexes of `held` set (those below `count`). */
export function encodeHeldBitfield(held: Iterable<number>, count: number): string {
  const bits = new Uint8Array(bitfieldBytes(count));
  for (const i of held) if (i >= 0 && i < count) setBit(bits, i);
  return toBase64(bits);
}

/** The first `count` bits of a base64 bitfield; malformed base64 reads as nothing held. */
export function decodeBitfield(b64: string, count: number): boolean[] {
  return unpackBits(fromBase64(b64) ?? new Uint8Array(0), count);
}
