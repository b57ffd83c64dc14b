/**
 * Bytes on disk are input like any other, and they can change after they were verified. A `.part` directory's
 * manifest is checked, another video's directory never contributes chunks, the assembled file is only moved
 * into place when its root hash matches, and seeders hash what they read before sending it.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, truncateSync,
  writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { verifyFileAgainstManifest } from '../../client/assemble.js';
import { fileSource, partialSource } from '../../client/p2p/sources.js';
import { openPartial } from '../../client/partial.js';
import {
  BadManifestError, chunkCount, ChunkCorruptError, ChunkMissingError, LockedError, type Manifest,
} from '../../protocol/mod.js';
import { buildManifest, checkManifest, sha256Hex } from '../../lib/hash.js';
import { overwriteChunk } from '../helpers/disk.js';

const CHUNK = 16 * 1024;

/** A small real manifest over random bytes (no stack needed). */
function sampleVideo(name = 'clip.mp4', chunks = 5): { data: Buffer; manifest: Manifest } {
  const data = randomBytes(CHUNK * (chunks - 1) + 777);
  const hashes: string[] = [];
  for (let i = 0; i < chunkCount(data.byteLength, CHUNK); i++) hashes.push(sha256Hex(data.subarray(i * CHUNK, (i + 1) * CHUNK)));
  return { data, manifest: buildManifest({ name, mime: 'video/mp4', size: data.byteLength, chunkSize: CHUNK, chunks: hashes }) };
}

const chunkOf = (data: Buffer, i: number) => data.subarray(i * CHUNK, (i + 1) * CHUNK);

const tmp = mkdtempSync(join(tmpdir(), 'sy-disk-'));
let n = 0;
const fresh = () => join(tmp, `case${n++}`);

async function rejects<E>(p: Promise<unknown>, cls: new (...a: never[]) => E, pattern: string | RegExp = ''): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, cls);
    assert.match((err as Error).message, pattern);
    return err as E;
  }
  throw new Error(`expected ${cls.name}`);
}

async function complete(dir: string, v: ReturnType<typeof sampleVideo>) {
  const partial = await openPartial(join(dir, 'out.mp4.part'), v.manifest);
  for (let i = 0; i < v.manifest.chunks.length; i++) assert.ok(await partial.writeChunk(i, chunkOf(v.data, i)));
  return partial;
}

test('assembly of intact chunks yields the source bytes', async () => {
  const dir = fresh();
  mkdirSync(dir);
  const v = sampleVideo();
  const partial = await complete(dir, v);
  await partial.assemble(join(dir, 'out.mp4'));
  assert.is(sha256Hex(readFileSync(join(dir, 'out.mp4'))), sha256Hex(v.data));
  assert.equal(readdirSync(dir).sort(), ['out.mp4', 'out.mp4.part']);
});

test('a chunk file changed between verification and assembly: refused, nothing moved into place, chunk dropped', async () => {
  const dir = fresh();
  mkdirSync(dir);
  const v = sampleVideo();
  const partial = await complete(dir, v);
  const bad = Buffer.from(chunkOf(v.data, 2));
  bad[100] = bad[100]! ^ 0xff;
  overwriteChunk(partial.dir, CHUNK, 2, bad);
  await rejects(partial.assemble(join(dir, 'out.mp4')), ChunkCorruptError, 'chunk 2');
  assert.not.ok(existsSync(join(dir, 'out.mp4')));
  assert.equal(readdirSync(dir), ['out.mp4.part'], 'no temp file left behind');
  assert.not.ok(partial.hasChunk(2), 'the changed chunk is fetched again');
  assert.equal(partial.have(), [0, 1, 3, 4]);
});

test('the root check catches an assembled file that differs from the manifest', async () => {
  const dir = fresh();
  mkdirSync(dir);
  const v = sampleVideo();
  const file = join(dir, 'f.mp4');
  writeFileSync(file, v.data);
  await verifyFileAgainstManifest(file, v.manifest);
  const bad = Buffer.from(v.data);
  bad[3 * CHUNK + 5] = bad[3 * CHUNK + 5]! ^ 1;
  writeFileSync(file, bad);
  await rejects(verifyFileAgainstManifest(file, v.manifest), ChunkCorruptError, 'does not match the root hash');
  await rejects(verifyFileAgainstManifest(file, v.manifest), ChunkCorruptError, '(chunk 3 differs)');
  writeFileSync(file, v.data.subarray(0, v.data.byteLength - 1));
  await rejects(verifyFileAgainstManifest(file, v.manifest), ChunkCorruptError, 'the manifest says');
});

test('a .part directory of another video is refused and left untouched', async () => {
  const dir = fresh();
  mkdirSync(dir);
  const a = sampleVideo('clip.mp4');
  const b = sampleVideo('clip.mp4');
  const pa = await complete(dir, a);
  await rejects(openPartial(pa.dir, b.manifest), LockedError,
    `holds a partial download of another video (${a.manifest.videoId}`);
  const again = await openPartial(pa.dir, a.manifest);
  assert.equal(again.have(), [0, 1, 2, 3, 4], 'the other download keeps its verified chunks');
});

test('a damaged or inconsistent saved manifest is a clear BadManifestError', async () => {
  const dir = fresh();
  mkdirSync(join(dir, 'x.part'), { recursive: true });
  const v = sampleVideo();
  writeFileSync(join(dir, 'x.part', 'manifest.json'), '{"version":1,');
  await rejects(openPartial(join(dir, 'x.part'), v.manifest), BadManifestError, 'is not a valid manifest');
  const forged: Manifest = { ...v.manifest, chunks: [...v.manifest.chunks].reverse() };
  writeFileSync(join(dir, 'x.part', 'manifest.json'), JSON.stringify(forged));
  await rejects(openPartial(join(dir, 'x.part'), v.manifest), BadManifestError, 'root hash does not match chunk list');
});

test('checkManifest: inconsistent manifests and the wrong video are refused', () => {
  const v = sampleVideo();
  assert.is(checkManifest(v.manifest, v.manifest.videoId), v.manifest);
  const cases: Array<[Manifest, string]> = [
    [{ ...v.manifest, size: v.manifest.size + 1 }, 'root hash does not match'],
    [{ ...v.manifest, chunks: v.manifest.chunks.slice(1) }, 'chunk count'],
    [{ ...v.manifest, videoId: 'vfffffffffffffffffffffff' }, 'video id does not match root hash'],
  ];
  for (const [m, why] of cases) assert.throws(() => checkManifest(m), (e: unknown) => e instanceof BadManifestError && e.message.includes(why));
  assert.throws(() => checkManifest(v.manifest, 'vother'), (e: unknown) => e instanceof BadManifestError && /not the requested vother/.test((e as Error).message));
});

test('openPartial refuses an inconsistent manifest before touching the disk', async () => {
  const dir = fresh();
  const v = sampleVideo();
  await rejects(openPartial(join(dir, 'y.part'), { ...v.manifest, chunkSize: CHUNK * 2 }), BadManifestError, 'inconsistent');
  assert.not.ok(existsSync(dir));
});

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
    await rejects(src.read(1), ChunkCorruptError);
    await rejects(src.read(1), ChunkMissingError);
    assert.is(src.has(1), false, 'no longer offered');
    assert.equal(reported, [1]);
    assert.is(sha256Hex(await src.read(0)), v.manifest.chunks[0], 'untouched chunks are still served');
    truncateSync(file, 4 * CHUNK + 10);
    await rejects(src.read(4), ChunkCorruptError);
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
  overwriteChunk(partial.dir, CHUNK, 2, bad);
  await rejects(src.read(2), ChunkCorruptError);
  assert.is(src.has(2), false);
  assert.equal(src.have(), [true, true, false, false, false]);
  await rejects(src.read(2), ChunkMissingError);
  overwriteChunk(partial.dir, CHUNK, 1, new Uint8Array(CHUNK)); // zeroed, as a hole reads
  await rejects(src.read(1), ChunkCorruptError);
  assert.is(src.has(1), false);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
