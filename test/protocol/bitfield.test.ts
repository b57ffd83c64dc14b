import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeBitfield, encodeBitfield, encodeHeldBitfield, forEachSetBit, packBits, popcount, spareBitsClear, testBit, unpackBits,
} from '../../protocol/bitfield.js';
import { fromBase64, toBase64 } from '../../protocol/base64.js';

// Node's Buffer is the reference the hand-written codec must agree with byte for byte.
test('base64 and base64url agree with Buffer for every length 0..70 and random bytes', () => {
  for (let n = 0; n <= 70; n++) {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = (i * 97 + n * 31) & 0xff;
    const b64 = Buffer.from(bytes).toString('base64');
    const url = Buffer.from(bytes).toString('base64url');
    assert.is(toBase64(bytes), b64);
    assert.is(toBase64(bytes, true), url);
    assert.equal(fromBase64(b64), new Uint8Array(bytes));
    assert.equal(fromBase64(url), new Uint8Array(bytes));
  }
});

test('fromBase64 refuses characters outside the alphabets and impossible lengths', () => {
  for (const bad of ['A', 'AB C', 'AB\nCD', 'A===', 'ab*d', 'é']) assert.is(fromBase64(bad), null, bad);
});

test('bit order is MSB first, and spare bits past the count are detected', () => {
  const bytes = packBits([true, false, false, false, false, false, false, false, false, true]);
  assert.equal([...bytes], [0x80, 0x40]);
  assert.ok(testBit(bytes, 0) && testBit(bytes, 9) && !testBit(bytes, 1) && !testBit(bytes, 99));
  assert.equal(unpackBits(bytes, 10), [true, false, false, false, false, false, false, false, false, true]);
  assert.ok(spareBitsClear(bytes, 10));
  assert.not.ok(spareBitsClear(bytes, 9));
  assert.is(popcount(bytes), 2);
  const seen: number[] = [];
  forEachSetBit(bytes, 16, (i) => seen.push(i));
  assert.equal(seen, [0, 9]);
});

test('a bitfield encoded from a held list equals the one encoded from booleans', () => {
  const have = Array.from({ length: 77 }, (_, i) => i % 5 === 0 || i === 76);
  const held = have.flatMap((h, i) => (h ? [i] : []));
  assert.is(encodeHeldBitfield([...held, 80, -1], 77), encodeBitfield(have), 'indexes outside 0..count-1 are ignored');
});

test('encodeBitfield round-trips, and malformed base64 decodes as nothing held', () => {
  const have = Array.from({ length: 37 }, (_, i) => i % 3 === 0);
  assert.equal(decodeBitfield(encodeBitfield(have), 37), have);
  assert.equal(decodeBitfield('**', 4), [false, false, false, false]);
});

test.run();
