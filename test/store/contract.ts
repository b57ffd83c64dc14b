/** The chunk-store contract: every implementation must pass the same suite. */
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ChunkCorruptError, ChunkMissingError, BadRequestError } from '../../protocol/mod.js';
import { sha256Hex } from '../../lib/hash.js';
import type { ChunkStore } from '../../store/mod.js';

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
      try {
        await store.get(bad);
        assert.unreachable(`accepted ${bad}`);
      } catch (err) {
        assert.instance(err, BadRequestError);
      }
    }
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
    const many = Array.from({ length: 20 }, () => randomBytes(4096));
    await Promise.all(many.map((d) => store.put(sha256Hex(d), d)));
    for (const d of many) assert.is(sha256Hex(await store.get(sha256Hex(d))), sha256Hex(d));
  });

  return t;
}
