import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { contentRange, parseRange, RangeNotSatisfiableError } from '../../gateway/mod.js';
import { ErrorCodes } from '../../protocol/mod.js';

const SIZE = 1000;

function unsatisfiable(header: string, size = SIZE) {
  try {
    parseRange(header, size);
  } catch (err) {
    assert.instance(err, RangeNotSatisfiableError);
    assert.is((err as RangeNotSatisfiableError).code, ErrorCodes.badRange);
    assert.is((err as RangeNotSatisfiableError).size, size);
    return;
  }
  assert.unreachable(`${JSON.stringify(header)} should be refused`);
}

test('no Range header, or an empty one, means the whole chunk', () => {
  assert.equal(parseRange(undefined, SIZE), { kind: 'full' });
  assert.equal(parseRange('', SIZE), { kind: 'full' });
  assert.equal(parseRange('   ', SIZE), { kind: 'full' });
});

test('bytes=a-b is inclusive; an end past the chunk is clamped', () => {
  assert.equal(parseRange('bytes=0-99', SIZE), { kind: 'partial', start: 0, end: 99 });
  assert.equal(parseRange('bytes=5-5', SIZE), { kind: 'partial', start: 5, end: 5 });
  assert.equal(parseRange('bytes=900-5000', SIZE), { kind: 'partial', start: 900, end: 999 });
  assert.equal(parseRange('bytes=0-999', SIZE), { kind: 'partial', start: 0, end: 999 });
});

test('bytes=a- runs to the end', () => {
  assert.equal(parseRange('bytes=100-', SIZE), { kind: 'partial', start: 100, end: 999 });
  assert.equal(parseRange('bytes=999-', SIZE), { kind: 'partial', start: 999, end: 999 });
});

test('bytes=-n is the last n bytes, all of them when n exceeds the size', () => {
  assert.equal(parseRange('bytes=-10', SIZE), { kind: 'partial', start: 990, end: 999 });
  assert.equal(parseRange('bytes=-1000', SIZE), { kind: 'partial', start: 0, end: 999 });
  assert.equal(parseRange('bytes=-99999', SIZE), { kind: 'partial', start: 0, end: 999 });
});

test('unit is case-insensitive and whitespace around the spec is tolerated', () => {
  assert.equal(parseRange('Bytes=0-1', SIZE), { kind: 'partial', start: 0, end: 1 });
  assert.equal(parseRange('bytes= 0-1 ', SIZE), { kind: 'partial', start: 0, end: 1 });
});

test('another unit is ignored (RFC 9110: not malformed, just not ours)', () => {
  assert.equal(parseRange('items=0-5', SIZE), { kind: 'full' });
});

test('unsatisfiable ranges are refused with the size', () => {
  unsatisfiable('bytes=1000-');
  unsatisfiable('bytes=999999999-');
  unsatisfiable('bytes=1000-1005');
  unsatisfiable('bytes=-0');
  unsatisfiable('bytes=0-0', 0);
});

test('malformed ranges are refused', () => {
  for (const h of ['bytes=abc', 'bytes=', 'bytes=-', 'bytes=5-4', 'bytes=1.5-2', 'bytes=0x10-', 'bytes=--5', 'bytes',
    '0-5', 'bytes=+1-2', 'bytes=1-2-3', `bytes=${'9'.repeat(16)}-`, `bytes=0-${'1'.repeat(200)}`]) {
    unsatisfiable(h);
  }
});

test('multiple ranges are refused, even when each one is fine', () => {
  unsatisfiable('bytes=0-1,5-6');
  unsatisfiable('bytes=0-1, 5-6');
  unsatisfiable('bytes=0-,');
});

test('contentRange formats inclusive offsets and the total', () => {
  assert.is(contentRange({ start: 0, end: 99 }, SIZE), 'bytes 0-99/1000');
});

test.run();
