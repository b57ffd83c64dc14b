import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createFsChunkStore, createGridFsChunkStore, openChunkStore } from '../../store/mod.js';
import { chunkStoreContract } from './contract.js';
import { sha256Hex } from '../../lib/hash.js';
import { ChunkCorruptError } from '../../protocol/mod.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-store-'));
chunkStoreContract('fs', async () => createFsChunkStore({ root: dir }), async () => rmSync(dir, { recursive: true, force: true })).run();

const mongo = process.env.MONGODB_URL;
if (mongo) {
  const bucketName = `test_${Date.now()}`;
  chunkStoreContract('gridfs', () => createGridFsChunkStore({ url: mongo, bucketName })).run();
} else {
  console.log('SKIPPED: GridFS chunk-store contract suite (MONGODB_URL is not set; no MongoDB can run on this machine)');
  const skipped = test.skip;
  skipped('gridfs chunk store contract (needs MONGODB_URL)', () => {});
}

test('fs store leaves no temp files and fans out by hash prefix', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sy-store-'));
  const store = await openChunkStore(`fs:${root}`);
  assert.is(store.kind, 'fs');
  const data = new TextEncoder().encode('hello switchyard');
  const { sha256Hex } = await import('../../lib/hash.js');
  const h = sha256Hex(data);
  await store.put(h, data);
  const files = readdirSync(join(root, h.slice(0, 2), h.slice(2, 4)));
  assert.equal(files, [h]);
  rmSync(root, { recursive: true, force: true });
});
test('fs store: a damaged chunk already on disk is replaced by the next put, not skipped', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sy-store-'));
  const store = createFsChunkStore({ root });
  const { sha256Hex } = await import('../../lib/hash.js');
  const data = randomBytes(64 * 1024);
  const h = sha256Hex(data);
  await store.put(h, data);
  const file = join(root, h.slice(0, 2), h.slice(2, 4), h);
  const damaged = Buffer.from(data);
  damaged[1000] = damaged[1000]! ^ 0xff;
  writeFileSync(file, damaged); // same size: a size check alone would keep it
  await store.put(h, data);
  assert.is(sha256Hex(readFileSync(file)), h);
  writeFileSync(file, data.subarray(0, 10)); // truncated
  await store.put(h, data);
  assert.is(sha256Hex(await store.get(h)), h);
  assert.equal(readdirSync(join(root, h.slice(0, 2), h.slice(2, 4))), [h], 'no temp file left behind');
  rmSync(root, { recursive: true, force: true });
});
const openFds = () => readdirSync('/proc/self/fd').length;

test('fs store open: a truncated file reports its real size; reading past its end fails, never ends short', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sy-store-'));
  const store = createFsChunkStore({ root });
  const data = randomBytes(300 * 1024);
  const h = sha256Hex(data);
  await store.put(h, data);
  truncateSync(join(root, h.slice(0, 2), h.slice(2, 4), h), 1000);
  for (const opts of [{}, { buffer: Buffer.alloc(512 * 1024) }]) {
    const { size, stream } = await store.open(h, { start: 0, end: data.byteLength - 1 }, opts);
    assert.is(size, 1000, 'the size on disk, from fstat');
    let got = 0;
    try {
      for await (const part of stream) got += (part as Buffer).byteLength;
      assert.unreachable('a short file must not look complete');
    } catch (err) {
      assert.instance(err, ChunkCorruptError);
    }
    assert.ok(got <= 1000);
  }
  rmSync(root, { recursive: true, force: true });
});

test('fs store open: descriptors close when a stream ends, is destroyed unread, or is destroyed mid-read', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sy-store-'));
  const store = createFsChunkStore({ root });
  const data = randomBytes(3 * 1024 * 1024);
  const h = sha256Hex(data);
  await store.put(h, data);
  const before = openFds();
  const closed = (s: Readable) => new Promise((resolve) => s.once('close', resolve));
  for (let i = 0; i < 20; i++) {
    const read = await store.open(h);
    for await (const _ of read.stream) { /* drain */ }
    const unread = await store.open(h);
    const c1 = closed(unread.stream);
    unread.stream.destroy();
    const midway = await store.open(h);
    const c2 = closed(midway.stream);
    midway.stream.once('data', () => midway.stream.destroy());
    midway.stream.resume();
    await Promise.all([c1, c2]);
  }
  assert.is(openFds(), before, 'no descriptor left open');
  rmSync(root, { recursive: true, force: true });
});

test.run();
