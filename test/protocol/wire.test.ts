import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BLOCK_SIZE, createDispatcher, decodeFrame, encodeFrame, encodePiece, FrameTypes, MAX_FRAME_BYTES, RejectReasons,
  WIRE_VERSION, type Frame,
} from '../../protocol/wire.js';
import { WireError } from '../../protocol/errors.js';
import { MAX_CHUNK_SIZE } from '../../protocol/manifest.js';
import { encodeBitfield } from '../../protocol/bitfield.js';

const ROOT = 'ab'.repeat(16) + '0123456789abcdef'.repeat(2);

function handshake(over: Partial<Extract<Frame, { type: 'handshake' }>> = {}): Frame {
  return { type: 'handshake', version: WIRE_VERSION, rootHash: ROOT, videoId: 'vabc_DEF-09', peerId: 'peer-1', uploads: true, ...over };
}

function roundTrip(f: Frame): Frame {
  const buf = Buffer.from(encodeFrame(f));
  assert.is(buf.readUInt32BE(0), buf.length - 5, 'length field');
  assert.is(buf[4], FrameTypes[f.type]);
  const back = decodeFrame(buf);
  assert.equal(back, f);
  return back;
}

function rejects(buf: Uint8Array, pattern: RegExp) {
  try {
    decodeFrame(buf);
  } catch (err) {
    assert.instance(err, WireError);
    assert.is((err as WireError).code, 'bad_frame');
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a WireError matching ${pattern}`);
}

/** Builds a raw frame around a payload, with an optionally wrong length field. */
function raw(type: number, payload: number[] | Uint8Array, lengthField = payload.length): Buffer {
  const buf = Buffer.alloc(5 + payload.length);
  buf.writeUInt32BE(lengthField, 0);
  buf[4] = type;
  buf.set(payload, 5);
  return buf;
}

const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

test('handshake round-trips, both flag values, longest ids', () => {
  roundTrip(handshake());
  roundTrip(handshake({ uploads: false, rootHash: '0'.repeat(64) }));
  roundTrip(handshake({ videoId: 'x'.repeat(64), peerId: 'Y'.repeat(64), rootHash: 'f'.repeat(64) }));
  roundTrip(handshake({ videoId: 'a', peerId: '_' }));
  const buf = Buffer.from(encodeFrame(handshake()));
  assert.is(buf[5], WIRE_VERSION);
  assert.is(buf.subarray(6, 38).toString('hex'), ROOT);
});

test('bitfield round-trips for 1, 8, 9 and 65536 chunks and matches encodeBitfield bit order', () => {
  for (const count of [1, 8, 9, 65536]) {
    const have = Array.from({ length: count }, (_, i) => i % 3 === 0 || i === count - 1);
    const buf = Buffer.from(encodeFrame({ type: 'bitfield', have }));
    assert.is(buf.length, 5 + 4 + Math.ceil(count / 8));
    assert.is(buf.subarray(9).toString('base64'), encodeBitfield(have));
    roundTrip({ type: 'bitfield', have });
    roundTrip({ type: 'bitfield', have: have.map(() => false) });
    roundTrip({ type: 'bitfield', have: have.map(() => true) });
  }
});

test('index frames round-trip at 0 and 65535', () => {
  for (const type of ['have', 'request', 'cancel'] as const) {
    for (const index of [0, 1, 65535]) roundTrip({ type, index });
  }
  for (const reason of Object.values(RejectReasons)) {
    roundTrip({ type: 'reject', index: 65535, reason });
    roundTrip({ type: 'reject', index: 0, reason });
  }
});

test('empty frames round-trip and are 5 bytes', () => {
  for (const type of ['choke', 'unchoke', 'keepalive'] as const) {
    assert.is(roundTrip({ type }) && encodeFrame({ type }).length, 5);
  }
});

test('piece round-trips: 1 byte, BLOCK_SIZE, ending exactly at the chunk end; data is a view', () => {
  const one = new Uint8Array([42]);
  roundTrip({ type: 'piece', index: 0, offset: 0, chunkLength: 1, data: one });
  const block = new Uint8Array(BLOCK_SIZE).map((_, i) => i * 7);
  roundTrip({ type: 'piece', index: 65535, offset: 0, chunkLength: BLOCK_SIZE, data: block });
  roundTrip({ type: 'piece', index: 3, offset: MAX_CHUNK_SIZE - BLOCK_SIZE, chunkLength: MAX_CHUNK_SIZE, data: block });
  roundTrip({ type: 'piece', index: 3, offset: 999, chunkLength: 1000, data: one });

  const buf = encodePiece(7, 100, 300, block.subarray(0, 200));
  assert.is(buf.length, 17 + 200);
  assert.ok(buf.length <= MAX_FRAME_BYTES);
  const f = decodeFrame(buf);
  assert.is(f.type, 'piece');
  if (f.type !== 'piece') return;
  assert.is(f.data.buffer, buf.buffer, 'no copy on decode');
  assert.is(f.data.byteOffset, buf.byteOffset + 17);
  assert.equal([...f.data], [...block.subarray(0, 200)]);

  // A received message is usually a view into a larger buffer; decoding must respect its offset.
  const outer = new Uint8Array(buf.length + 10);
  outer.set(buf, 10);
  const g = decodeFrame(outer.subarray(10));
  assert.equal(g, f);
});

test('rejects: unknown type, short header, length field too big or too small', () => {
  rejects(raw(0, []), /unknown frame type 0/);
  rejects(raw(11, []), /unknown frame type 11/);
  rejects(raw(255, [1, 2, 3]), /unknown frame type 255/);
  rejects(new Uint8Array(0), /truncated header/);
  rejects(new Uint8Array([0, 0, 0, 0]), /truncated header/);
  rejects(raw(FrameTypes.have, u32(1), 5), /length field says 5 .* has 4/);
  rejects(raw(FrameTypes.have, u32(1), 3), /length field says 3/);
  rejects(raw(FrameTypes.keepalive, [], 0xffffffff), /length field/);
});

test('rejects: oversized input before looking at it', () => {
  rejects(new Uint8Array(MAX_FRAME_BYTES + 1), /exceeds/);
  rejects(new Uint8Array(50 * 1024 * 1024), /exceeds/);
  // Even a well-formed piece header cannot smuggle more than BLOCK_SIZE bytes of data.
  const big = raw(FrameTypes.piece, [...u32(0), ...u32(0), ...u32(MAX_CHUNK_SIZE), ...new Array<number>(BLOCK_SIZE + 1).fill(1)]);
  rejects(big, /data bytes/);
});

test('rejects: wrong payload sizes for fixed-size frames', () => {
  rejects(raw(FrameTypes.have, [0, 0, 1]), /have payload must be 4 bytes, got 3/);
  rejects(raw(FrameTypes.request, [...u32(1), 0]), /request payload must be 4/);
  rejects(raw(FrameTypes.cancel, []), /cancel payload must be 4/);
  rejects(raw(FrameTypes.reject, u32(1)), /reject payload must be 5/);
  rejects(raw(FrameTypes.choke, [0]), /choke payload must be 0/);
  rejects(raw(FrameTypes.keepalive, [0, 0]), /keepalive payload must be 0/);
  rejects(raw(FrameTypes.piece, [...u32(0), ...u32(0)]), /piece header truncated/);
});

test('rejects: indexes and reasons out of range', () => {
  rejects(raw(FrameTypes.have, u32(65536)), /index 65536 is out of range/);
  rejects(raw(FrameTypes.request, u32(0xffffffff)), /out of range/);
  rejects(raw(FrameTypes.reject, [...u32(1), 0]), /unknown reject reason 0/);
  rejects(raw(FrameTypes.reject, [...u32(1), 5]), /unknown reject reason 5/);
});

test('rejects: piece past the chunk end, empty data, bad chunkLength', () => {
  const p = (index: number, offset: number, chunkLength: number, n: number) =>
    raw(FrameTypes.piece, [...u32(index), ...u32(offset), ...u32(chunkLength), ...new Array<number>(n).fill(9)]);
  rejects(p(0, 999, 1000, 2), /runs past the chunk end/);
  rejects(p(0, 0xffffffff, 1000, 1), /runs past the chunk end/);
  rejects(p(0, 0, 1000, 0), /0 data bytes/);
  rejects(p(0, 0, 0, 1), /chunkLength 0/);
  rejects(p(0, 0, MAX_CHUNK_SIZE + 1, 1), /chunkLength/);
  rejects(p(65536, 0, 10, 1), /piece index 65536/);
  decodeFrame(p(0, 998, 1000, 2));
});

test('rejects: handshake with wrong version, bad ids, bad lengths, reserved flags, trailing bytes', () => {
  const good = encodeFrame(handshake({ videoId: 'vid', peerId: 'pp' }));
  const mutate = (at: number, value: number) => {
    const b = Buffer.from(good);
    b[at] = value;
    return b;
  };
  // payload: [0]=version, [1..32]=hash, [33]=len 3, [34..36]='vid', [37]=len 2, [38..39]='pp', [40]=flags
  const P = 5;
  rejects(mutate(P, 2), /unsupported wire version 2/);
  rejects(mutate(P, 0), /unsupported wire version 0/);
  rejects(mutate(P + 35, 0x2e), /videoId has a byte 0x2e/);
  rejects(mutate(P + 38, 0x20), /peerId has a byte 0x20/);
  rejects(mutate(P + 38, 0xc3), /peerId has a byte/);
  rejects(mutate(P + 33, 0), /videoId length 0/);
  rejects(mutate(P + 37, 65), /peerId length 65/);
  rejects(mutate(P + 37, 3), /peerId has a byte 0x1|truncated/);
  rejects(mutate(P + 40, 0x02), /reserved bits/);
  const trailing = Buffer.concat([Buffer.from(good), Buffer.from([0])]);
  trailing.writeUInt32BE(trailing.length - 5, 0);
  rejects(trailing, /1 trailing bytes/);
  const short = good.subarray(0, good.length - 1);
  rejects(raw(FrameTypes.handshake, short.subarray(5)), /truncated in flags/);
  rejects(raw(FrameTypes.handshake, [WIRE_VERSION, 1, 2]), /truncated in root hash/);
  rejects(raw(FrameTypes.handshake, []), /truncated in version/);
});

test('rejects: bitfield trailing bits set, bad counts, size mismatch', () => {
  // count 9: 0x80 in the second byte is bit 8, legal; 0x40 would be bit 9
  assert.equal(decodeFrame(raw(FrameTypes.bitfield, [...u32(9), 0xff, 0x80])), { type: 'bitfield', have: new Array<boolean>(9).fill(true) });
  rejects(raw(FrameTypes.bitfield, [...u32(9), 0xff, 0x40]), /bits past chunk count 9/);
  rejects(raw(FrameTypes.bitfield, [...u32(1), 0x01]), /bits past chunk count 1/);
  rejects(raw(FrameTypes.bitfield, [...u32(0)]), /chunk count 0/);
  rejects(raw(FrameTypes.bitfield, [...u32(65537), ...new Array<number>(8193).fill(0)]), /chunk count 65537/);
  rejects(raw(FrameTypes.bitfield, [...u32(16), 0]), /bitfield payload must be 6 bytes, got 5/);
  rejects(raw(FrameTypes.bitfield, [...u32(8), 0, 0]), /bitfield payload must be 5 bytes, got 6/);
  rejects(raw(FrameTypes.bitfield, [0, 0]), /bitfield truncated/);
});

test('encoders refuse what the decoder would refuse', () => {
  const refuses = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof WireError && e.code === 'bad_frame');
  refuses(() => encodeFrame(handshake({ version: 2 })));
  refuses(() => encodeFrame(handshake({ rootHash: 'AB'.repeat(32) })));
  refuses(() => encodeFrame(handshake({ rootHash: 'ab' })));
  refuses(() => encodeFrame(handshake({ videoId: 'a.b' })));
  refuses(() => encodeFrame(handshake({ peerId: '' })));
  refuses(() => encodeFrame(handshake({ peerId: 'é' })));
  refuses(() => encodeFrame(handshake({ peerId: 'x'.repeat(65) })));
  refuses(() => encodeFrame({ type: 'bitfield', have: [] }));
  refuses(() => encodeFrame({ type: 'bitfield', have: new Array<boolean>(65537).fill(false) }));
  refuses(() => encodeFrame({ type: 'have', index: 65536 }));
  refuses(() => encodeFrame({ type: 'request', index: -1 }));
  refuses(() => encodeFrame({ type: 'cancel', index: 1.5 }));
  refuses(() => encodeFrame({ type: 'reject', index: 1, reason: 9 as never }));
  refuses(() => encodePiece(0, 0, 10, new Uint8Array(0)));
  refuses(() => encodePiece(0, 5, 10, new Uint8Array(6)));
  refuses(() => encodePiece(0, 0, BLOCK_SIZE + 1, new Uint8Array(BLOCK_SIZE + 1)));
  refuses(() => encodePiece(0, 0, MAX_CHUNK_SIZE + 1, new Uint8Array(1)));
  refuses(() => encodeFrame({ type: 'nope' } as unknown as Frame));
});

test('decodeFrame refuses non-binary input with WireError', () => {
  for (const bad of [null, undefined, 'abc', 42, {}, [0, 0, 0, 0, 10]]) {
    assert.throws(() => decodeFrame(bad as unknown as Uint8Array), (e: unknown) => e instanceof WireError);
  }
});

test('dispatcher: routes frames, accepts Buffer and ArrayBuffer, ignores frames without a handler', () => {
  const seen: Frame[] = [];
  const errors: WireError[] = [];
  const dispatch = createDispatcher({
    have: (f) => seen.push(f),
    piece: (f) => seen.push(f),
  }, (e) => errors.push(e));
  dispatch(encodeFrame({ type: 'have', index: 4 }));
  const piece = encodePiece(1, 0, 3, new Uint8Array([1, 2, 3]));
  const ab = piece.buffer.slice(piece.byteOffset, piece.byteOffset + piece.length) as ArrayBuffer;
  dispatch(ab);
  dispatch(encodeFrame({ type: 'keepalive' }));
  dispatch(encodeFrame(handshake()));
  assert.is(errors.length, 0);
  assert.equal(seen.map((f) => f.type), ['have', 'piece']);
  assert.equal(seen[1], { type: 'piece', index: 1, offset: 0, chunkLength: 3, data: new Uint8Array([1, 2, 3]) });
});

test('dispatcher: text messages and garbage go to onError, nothing escapes', () => {
  const errors: WireError[] = [];
  const dispatch = createDispatcher({ have: () => assert.unreachable() }, (e) => errors.push(e));
  dispatch('hello');
  dispatch(new Uint8Array([0, 0, 0, 0, 99]));
  dispatch(new ArrayBuffer(MAX_FRAME_BYTES + 1));
  dispatch(null as unknown as string);
  assert.is(errors.length, 4);
  assert.ok(errors.every((e) => e instanceof WireError && e.code === 'bad_frame'));
  assert.match(errors[0]!.message, /text message/);
  assert.match(errors[1]!.message, /unknown frame type 99/);
});

test('dispatcher: a throwing handler, a rejecting async handler and a throwing onError are all contained', async () => {
  const errors: WireError[] = [];
  const boom = new Error('boom');
  const dispatch = createDispatcher({
    have: () => { throw boom; },
    request: (async () => { throw new Error('later'); }) as unknown as () => void,
  }, (e) => errors.push(e));
  dispatch(encodeFrame({ type: 'have', index: 1 }));
  assert.is(errors.length, 1);
  assert.instance(errors[0], WireError);
  assert.is(errors[0]!.cause, boom);
  assert.match(errors[0]!.message, /have handler failed: boom/);

  dispatch(encodeFrame({ type: 'request', index: 1 }));
  await new Promise((r) => setImmediate(r));
  assert.is(errors.length, 2);
  assert.match(errors[1]!.message, /request handler failed: later/);

  const noisy = createDispatcher({ have: () => { throw boom; } }, () => { throw new Error('onError broke'); });
  noisy(encodeFrame({ type: 'have', index: 1 }));
  noisy('text');
});

test('wire limits agree with the manifest and the block size', () => {
  assert.ok(17 + BLOCK_SIZE <= MAX_FRAME_BYTES);
  assert.is(MAX_FRAME_BYTES, BLOCK_SIZE + 64);
  assert.is(WIRE_VERSION, 1);
});

test.run();
