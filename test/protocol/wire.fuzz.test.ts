// Deterministic fuzzing of the wire decoder: whatever bytes a peer sends, decodeFrame either returns a frame
// that re-encodes to exactly those bytes (the encoding is canonical) or throws WireError; anything else (a
// RangeError from a DataView, a TypeError...) would escape a data-channel callback and abort the process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BLOCK_SIZE, decodeFrame, encodeFrame, encodePiece, FrameTypes, MAX_FRAME_BYTES, RejectReasons, WIRE_VERSION,
  type Frame,
} from '../../protocol/wire.js';
import { WireError } from '../../protocol/errors.js';

/** xorshift32: tiny, seedable, good enough to spray bytes. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
  return {
    u32: next,
    /** integer in [0, n) */
    int: (n: number) => next() % n,
    chance: (p: number) => next() / 0x100000000 < p,
    fill(buf: Uint8Array, from = 0) {
      let i = from;
      for (; i + 4 <= buf.length; i += 4) {
        const v = next();
        buf[i] = v; buf[i + 1] = v >>> 8; buf[i + 2] = v >>> 16; buf[i + 3] = v >>> 24;
      }
      for (; i < buf.length; i++) buf[i] = next();
    },
  };
}
type Rng = ReturnType<typeof rng>;

const stats = { ok: 0, rejected: 0 };

/** The property: a valid frame that re-encodes byte for byte, or a WireError; nothing else. */
function check(buf: Uint8Array, label: string): void {
  let frame: Frame;
  try {
    frame = decodeFrame(buf);
  } catch (err) {
    if (!(err instanceof WireError) || err.code !== 'bad_frame') {
      assert.unreachable(`${label}: decodeFrame threw ${String(err)} (not a WireError) for ${buf.length} bytes`);
    }
    stats.rejected++;
    return;
  }
  stats.ok++;
  assert.ok(frame.type in FrameTypes, `${label}: unknown decoded type`);
  const again = encodeFrame(frame);
  if (Buffer.compare(Buffer.from(again), Buffer.from(buf)) !== 0) assert.unreachable(`${label}: decoded ${frame.type} does not re-encode to its input`);
}

/** Random length, mostly small, now and then up to ~200 KB (past MAX_FRAME_BYTES). */
function randomLength(r: Rng): number {
  const k = r.int(100);
  if (k < 80) return r.int(64);
  if (k < 95) return r.int(2048);
  if (k < 98) return r.int(MAX_FRAME_BYTES + 32);
  return r.int(200 * 1024);
}

/** Random bytes; often with an honest length field and a known type so the fuzzing reaches the frame parsers. */
function garbage(r: Rng): Uint8Array {
  const buf = new Uint8Array(randomLength(r));
  r.fill(buf);
  if (buf.length >= 5 && r.chance(0.6)) {
    new DataView(buf.buffer).setUint32(0, buf.length - 5);
    buf[4] = r.int(12);
    // Plausible small values in the first fields (indexes, counts, versions) instead of huge random u32s.
    if (buf.length >= 9 && r.chance(0.5)) new DataView(buf.buffer).setUint32(5, r.chance(0.5) ? r.int(70000) : 0);
    if (buf[4] === FrameTypes.handshake && r.chance(0.5)) buf[5] = WIRE_VERSION;
  }
  return buf;
}

function sampleFrames(): Uint8Array[] {
  const root = '0123456789abcdef'.repeat(4);
  const have = (n: number) => Array.from({ length: n }, (_, i) => i % 5 !== 2);
  const block = new Uint8Array(BLOCK_SIZE).map((_, i) => i);
  return [
    encodeFrame({ type: 'handshake', version: WIRE_VERSION, rootHash: root, videoId: 'v0123abc', peerId: 'peer_A-1', uploads: true }),
    encodeFrame({ type: 'handshake', version: WIRE_VERSION, rootHash: root, videoId: 'x'.repeat(64), peerId: 'p', uploads: false }),
    encodeFrame({ type: 'bitfield', have: have(1) }),
    encodeFrame({ type: 'bitfield', have: have(9) }),
    encodeFrame({ type: 'bitfield', have: have(1000) }),
    encodeFrame({ type: 'have', index: 65535 }),
    encodeFrame({ type: 'request', index: 0 }),
    encodeFrame({ type: 'cancel', index: 77 }),
    encodeFrame({ type: 'reject', index: 3, reason: RejectReasons.overloaded }),
    encodeFrame({ type: 'choke' }),
    encodeFrame({ type: 'unchoke' }),
    encodeFrame({ type: 'keepalive' }),
    encodePiece(5, 0, 100, block.subarray(0, 100)),
    encodePiece(65535, BLOCK_SIZE, 2 * BLOCK_SIZE, block),
  ];
}

test('(a) 20,000 random byte arrays: a valid frame or a WireError, never anything else', () => {
  const r = rng(0x5eed1);
  for (let i = 0; i < 20_000; i++) check(garbage(r), `random #${i}`);
  assert.ok(stats.rejected > 0);
});

test('(b) every truncation of valid frames, with the original and with a fixed-up length field', () => {
  for (const [k, frame] of sampleFrames().entries()) {
    check(frame, `sample ${k}`);
    for (let len = 0; len < frame.length; len++) {
      const prefix = frame.subarray(0, len);
      check(prefix, `sample ${k} cut at ${len}`);
      if (len >= 5) {
        const fixed = Buffer.from(prefix);
        fixed.writeUInt32BE(len - 5, 0);
        check(fixed, `sample ${k} cut at ${len}, length fixed`);
      }
    }
  }
});

test('(b) 5,000 random single- and multi-byte mutations of valid frames', () => {
  const r = rng(0xbadf00d);
  const samples = sampleFrames();
  for (let i = 0; i < 5_000; i++) {
    const src = samples[r.int(samples.length)]!;
    const buf = Buffer.from(src);
    const edits = r.chance(0.5) ? 1 : 1 + r.int(8);
    for (let e = 0; e < edits; e++) {
      // Mostly hit the headers and fixed fields, where the parsing decisions are made.
      const at = r.chance(0.8) ? r.int(Math.min(buf.length, 48)) : r.int(buf.length);
      buf[at] = r.chance(0.3) ? buf[at]! ^ (1 << r.int(8)) : r.int(256);
    }
    if (r.chance(0.5)) buf.writeUInt32BE(buf.length - 5, 0);
    check(buf, `mutation #${i}`);
  }
  assert.ok(stats.ok > 0, 'some inputs decoded');
});

test('(c) 50,000 garbage decodes do not leak', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const r = rng(0xc0ffee);
  const bitfieldHeader = Buffer.from([0, 0, 0x20, 0x04, FrameTypes.bitfield, 0, 1, 0, 0]); // 65536 chunks
  const bitfield = Buffer.alloc(bitfieldHeader.length + 8192);
  bitfieldHeader.copy(bitfield);
  for (let i = 0; i < 50_000; i++) {
    // Every tenth attempt is a full-size legal bitfield, the decoder's largest allocation.
    const buf = i % 10 === 0 ? bitfield : garbage(r);
    if (i % 10 === 0) bitfield[9 + r.int(8192)] = r.int(256);
    try {
      decodeFrame(buf);
    } catch (err) {
      if (!(err instanceof WireError)) assert.unreachable(`decode #${i} threw ${String(err)}`);
    }
  }
  if (!gc) {
    console.log('  (run with --expose-gc for the strict heap check)');
    return;
  }
  gc();
  const growth = process.memoryUsage().heapUsed - before;
  assert.ok(growth < 50 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MB`);
});

test.run();
