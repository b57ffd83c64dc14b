/** The chunk-store contract: every implementation must pass the same suite. */
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ChunkCorruptError, ChunkMissingError, BadRequestError } from '../../protocol/mod.js';
import { sha256Hex } from '../../lib/hash.js';
import type { ByteRange, ChunkOpenOptions, ChunkStore } from '../../store/mod.js';

/** Everything an opened chunk's stream yields, and the size the store reported. */
async function readOpened(store: ChunkStore, hash: string, range?: ByteRange, opts?: ChunkOpenOptions) {
  const { size, stream } = await store.open(hash, range, opts);
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Uint8Array));
  return { size, bytes: Buffer.concat(parts) };
}

export function chunkStoreContract(name: string, open: () => Promise<ChunkStore>, cleanup?: () => Promise<void>) {
  const t = suite<{ store: ChunkStore }>(`chunk store contract: ${name}`);
  t.before.each(async (ctx) => {
    ctx.store = await open();
  });
  t.after.each(async (ctx) => {
    await ctx.store.close();
  });
  if (cleanup) t.after(cleanup);

  t('put then get returns identical bytes; has is true', async ({ store }) => {
    const data = randomBytes(300 * 1024);
    const h = sha256Hex(data);
    assert.is(await store.has(h), false);
    await store.put(h, data);
    assert.is(await store.has(h), true);
    const got = await store.get(h);
    assert.is(sha256Hex(got), h);
    assert.is(got.byteLength, data.byteLength);
  });

  t('put is idempotent and concurrent puts of one chunk both succeed', async ({ store }) => {
    const data = randomBytes(64 * 1024);
    const h = sha256Hex(data);
    await Promise.all([store.put(h, data), store.put(h, data), store.put(h, data)]);
    await store.put(h, data);
    assert.is(sha256Hex(await store.get(h)), h);
  });

  t('put rejects bytes that do not match the hash and stores nothing', async ({ store }) => {
    const data = randomBytes(1024);
    const wrong = sha256Hex(randomBytes(1024));
    try {
      await store.put(wrong, data);
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, ChunkCorruptError);
    }
    assert.is(await store.has(wrong), false);
  });

  t('get of an absent chunk throws ChunkMissingError', async ({ store }) => {
    try {
      await store.get(sha256Hex(randomBytes(8)));
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, ChunkMissingError);
    }
  });

  t('names that are not a lowercase SHA-256 are refused (no path traversal)', async ({ store }) => {
    for (const bad of ['../../etc/passwd', 'ABC', '', 'a'.repeat(63), '../' + 'a'.repeat(61), 'A'.repeat(64)]) {
      for (const read of [() => store.get(bad), () => store.open(bad)]) {
        try {
          await read();
          assert.unreachable(`accepted ${bad}`);
        } catch (err) {
          assert.instance(err, BadRequestError);
        }
      }
    }
  });

  t('open streams the same bytes as get, with the stored size', async ({ store }) => {
    const data = randomBytes(300 * 1024 + 17);
    const h = sha256Hex(data);
    await store.put(h, data);
    const whole = await readOpened(store, h);
    assert.is(whole.size, data.byteLength);
    assert.ok(whole.bytes.equals(data));
    // into a caller's buffer (larger than needed, as a pool hands out): the same bytes, a view of that memory
    const buffer = Buffer.alloc(512 * 1024);
    const pooled = await readOpened(store, h, undefined, { buffer });
    assert.ok(pooled.bytes.equals(data));
    // a buffer too small for the range is not written past its end: the store reads into its own memory instead
    const small = Buffer.alloc(16);
    assert.ok((await readOpened(store, h, undefined, { buffer: small })).bytes.equals(data));
  });

  t('open with a range streams exactly that slice (inclusive ends), with or without a buffer', async ({ store }) => {
    const data = randomBytes(256 * 1024 + 5);
    const h = sha256Hex(data);
    await store.put(h, data);
    const last = data.byteLength - 1;
    const ranges = [{ start: 0, end: 0 }, { start: 0, end: 99 }, { start: 1000, end: 200_000 },
      { start: last, end: last }, { start: 0, end: last },
      { start: 255 * 1024 - 3, end: 255 * 1024 + 3 }]; // across a GridFS chunk boundary
    for (const r of ranges) {
      const want = data.subarray(r.start, r.end + 1);
      const got = await readOpened(store, h, r);
      assert.is(got.size, data.byteLength, 'size is the stored size, not the slice');
      assert.ok(got.bytes.equals(want), `bytes ${r.start}-${r.end}`);
      assert.ok((await readOpened(store, h, r, { buffer: Buffer.alloc(want.byteLength) })).bytes.equals(want));
    }
  });

  t('open of an absent chunk throws ChunkMissingError; an opened stream may be dropped unread', async ({ store }) => {
    try {
      await store.open(sha256Hex(randomBytes(8)));
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, ChunkMissingError);
    }
    const data = randomBytes(4096);
    const h = sha256Hex(data);
    await store.put(h, data);
    const { stream } = await store.open(h);
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.destroy();
    await closed;
  });

  t('delete removes a chunk and tolerates absence', async ({ store }) => {
    const data = randomBytes(2048);
    const h = sha256Hex(data);
    await store.put(h, data);
    await store.delete(h);
    assert.is(await store.has(h), false);
    await store.delete(h);
  });

  t('empty chunk and many chunks round-trip', async ({ store }) => {
    const empty = new Uint8Array(0);
    await store.put(sha256Hex(empty), empty);
    assert.is((await store.get(sha256Hex(empty))).byteLength, 0);
    const opened = await readOpened(store, sha256Hex(empty));
    assert.is(opened.size, 0);
    assert.is(opened.bytes.byteLength, 0);
    const many = Array.from({ length: 20 }, () => randomBytes(4096));
    await Promise.all(many.map((d) => store.put(sha256Hex(d), d)));
    for (const d of many) assert.is(sha256Hex(await store.get(sha256Hex(d))), sha256Hex(d));
  });

  return t;
}
