/** Seeders hash what they read from disk before sending it: a file changed under a running source is not served. */
import { mkdtempSync, openSync, closeSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileSource, partialSource } from '../../client/p2p/sources.js';
import { openPartial } from '../../client/partial.js';
import { ChunkCorruptError, ChunkMissingError, sha256Hex } from '../../protocol/mod.js';
import { CHUNK, chunkOf, sampleVideo } from './fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'sy-sources-'));

async function refused(p: Promise<unknown>, cls: new (...a: never[]) => Error = ChunkCorruptError): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, cls);
    return;
  }
  throw new Error(`expected ${cls.name}`);
}
const corrupt = (p: Promise<unknown>) => refused(p);

test('seed --file source: a chunk modified on disk after open is not served, and reported once', async () => {
  const v = sampleVideo();
  const file = join(tmp, 'seed.mp4');
  writeFileSync(file, v.data);
  const reported: number[] = [];
  const src = await fileSource(file, v.manifest, { onCorrupt: (i) => reported.push(i) });
  try {
    assert.equal(src.have(), [true, true, true, true, true]);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from('tampered'), 0, 8, CHUNK + 10);
    closeSync(fd);
    await corrupt(src.read(1));
    await refused(src.read(1), ChunkMissingError);
    assert.is(src.has(1), false, 'no longer offered');
    assert.equal(reported, [1]);
    assert.is(sha256Hex(await src.read(0)), v.manifest.chunks[0], 'untouched chunks are still served');
    truncateSync(file, 4 * CHUNK + 10);
    await corrupt(src.read(4));
    assert.is(src.has(4), false);
    assert.equal(src.have(), [true, false, true, true, false]);
  } finally {
    await src.close();
  }
});

test('partial source: a .part chunk modified on disk is not served and is dropped for refetching', async () => {
  const v = sampleVideo();
  const partial = await openPartial(join(tmp, 'dl.mp4.part'), v.manifest);
  for (const i of [0, 1, 2]) assert.ok(await partial.writeChunk(i, chunkOf(v.data, i)));
  const src = partialSource(partial);
  assert.is(sha256Hex(await src.read(2)), v.manifest.chunks[2]);
  const bad = Buffer.from(chunkOf(v.data, 2));
  bad[0] = bad[0]! ^ 0x80;
  writeFileSync(join(partial.dir, 'chunks', '2'), bad);
  await corrupt(src.read(2));
  assert.is(src.has(2), false);
  assert.equal(src.have(), [true, true, false, false, false]);
  await refused(src.read(2), ChunkMissingError);
  rmSync(join(partial.dir, 'chunks', '1'));
  await corrupt(src.read(1));
  assert.is(src.has(1), false);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
