/**
 * A `.part` directory across runs (client/partial.ts): chunks are written in place in `data` and journalled in
 * `have`; a new open trusts nothing it does not re-hash. Torn journal entries, chunks changed while no client ran,
 * a data file of the wrong size and the one-file-per-chunk layout of earlier versions all resume without losing
 * a verified chunk or keeping a bad one; finishing renames `data` and leaves reads working.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openPartial } from '../../client/partial.js';
import { chunkCount, ChunkMissingError, type Manifest } from '../../protocol/mod.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { chunksOnDisk, overwriteChunk } from '../helpers/disk.js';

const CHUNK = 16 * 1024;

function sampleVideo(chunks = 6): { data: Buffer; manifest: Manifest } {
  const data = randomBytes(CHUNK * (chunks - 1) + 321);
  const hashes: string[] = [];
  for (let i = 0; i < chunkCount(data.byteLength, CHUNK); i++) hashes.push(sha256Hex(data.subarray(i * CHUNK, (i + 1) * CHUNK)));
  return { data, manifest: buildManifest({ name: 'r.mp4', mime: 'video/mp4', size: data.byteLength, chunkSize: CHUNK, chunks: hashes }) };
}
const chunkOf = (data: Buffer, i: number) => data.subarray(i * CHUNK, (i + 1) * CHUNK);

const tmp = mkdtempSync(join(tmpdir(), 'sy-resume-'));
let n = 0;
const fresh = () => {
  const d = join(tmp, `case${n++}`);
  mkdirSync(d);
  return join(d, 'out.mp4.part');
};

test('verified chunks survive a close and a re-open; the journal names each once', async () => {
  const v = sampleVideo();
  const dir = fresh();
  const a = await openPartial(dir, v.manifest);
  for (const i of [4, 1, 1, 3]) assert.ok(await a.writeChunk(i, chunkOf(v.data, i)));
  assert.not.ok(await a.writeChunk(2, chunkOf(v.data, 3)), 'wrong bytes are refused');
  await a.close();
  assert.is(chunksOnDisk(dir), 3);
  const b = await openPartial(dir, v.manifest);
  assert.equal(b.have(), [1, 3, 4]);
  assert.is(sha256Hex(await b.readChunk(3)), v.manifest.chunks[3]);
  await rejects(b.readChunk(0), ChunkMissingError);
  await b.close();
});

test('a torn journal entry and a chunk changed between runs are dropped on open; the rest resumes', async () => {
  const v = sampleVideo();
  const dir = fresh();
  const a = await openPartial(dir, v.manifest);
  for (const i of [0, 2, 5]) assert.ok(await a.writeChunk(i, chunkOf(v.data, i)));
  await a.close();
  appendFileSync(join(dir, 'have'), Buffer.from([1, 0])); // half an entry: a crash mid-append
  const bad = Buffer.from(chunkOf(v.data, 2));
  bad[7] = bad[7]! ^ 1;
  overwriteChunk(dir, CHUNK, 2, bad);
  const b = await openPartial(dir, v.manifest);
  assert.equal(b.have(), [0, 5], 'chunk 2 no longer matches: fetched again');
  assert.is(readFileSync(join(dir, 'have')).length, 8, 'the journal is rewritten with the verified chunks only');
  assert.ok(await b.writeChunk(2, chunkOf(v.data, 2)));
  await b.close();
  const c = await openPartial(dir, v.manifest);
  assert.equal(c.have(), [0, 2, 5]);
  await c.close();
});

test('a data file of the wrong size is set to the manifest size; journalled chunks past the cut are dropped', async () => {
  const v = sampleVideo();
  const dir = fresh();
  const a = await openPartial(dir, v.manifest);
  for (const i of [0, 5]) assert.ok(await a.writeChunk(i, chunkOf(v.data, i)));
  await a.close();
  truncateSync(join(dir, 'data'), 3 * CHUNK);
  const b = await openPartial(dir, v.manifest);
  assert.equal(b.have(), [0]);
  assert.is(readFileSync(join(dir, 'data')).length, v.manifest.size);
  await b.close();
});

test('the one-file-per-chunk layout of earlier versions is taken over: good chunks kept, bad and foreign ones not', async () => {
  const v = sampleVideo();
  const dir = fresh();
  mkdirSync(join(dir, 'chunks'), { recursive: true });
  writeFileSync(join(dir, 'chunks', '1'), chunkOf(v.data, 1));
  writeFileSync(join(dir, 'chunks', '5'), chunkOf(v.data, 5));
  writeFileSync(join(dir, 'chunks', '3'), chunkOf(v.data, 4)); // wrong bytes
  writeFileSync(join(dir, 'chunks', '99'), chunkOf(v.data, 0)); // past the end
  writeFileSync(join(dir, 'chunks', '2.123.abc.tmp'), chunkOf(v.data, 2)); // a torn write of that layout
  const p = await openPartial(dir, v.manifest);
  assert.equal(p.have(), [1, 5]);
  assert.not.ok(existsSync(join(dir, 'chunks')), 'the old chunk files are gone once copied');
  await p.close();
  const again = await openPartial(dir, v.manifest);
  assert.equal(again.have(), [1, 5], 'and were journalled');
  await again.close();
});

test('finishing renames data to the output: the bytes are the source, reads still work, remove keeps the output', async () => {
  const v = sampleVideo();
  const dir = fresh();
  const out = dir.replace(/\.part$/, '');
  const p = await openPartial(dir, v.manifest);
  await rejects(p.assemble(out), ChunkMissingError);
  for (let i = 0; i < v.manifest.chunks.length; i++) assert.ok(await p.writeChunk(i, chunkOf(v.data, i)));
  await p.assemble(out);
  assert.is(sha256Hex(readFileSync(out)), sha256Hex(v.data));
  assert.not.ok(existsSync(join(dir, 'data')), 'no copy: the file moved');
  assert.is(sha256Hex(await p.readChunk(2)), v.manifest.chunks[2], 'a seeder goes on reading the same file');
  await p.remove();
  assert.not.ok(existsSync(dir));
  assert.is(sha256Hex(readFileSync(out)), sha256Hex(v.data));
  await rejects(p.readChunk(2), ChunkMissingError);
});

async function rejects(p: Promise<unknown>, cls: new (...a: never[]) => Error): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, cls);
    return;
  }
  throw new Error(`expected ${cls.name}`);
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
