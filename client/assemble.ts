/**
 * Turns verified chunks into the output file, and refuses to call it done unless the file itself proves it.
 * Chunk files are checked when they are stored and again when they are read, but the output is what the user
 * keeps: it is written to a temp file, read back chunk by chunk, and its root hash is recomputed exactly as
 * protocol/manifest.ts defines it. Only a file whose root equals the manifest's is renamed into place, so
 * nothing that changed on disk between verification and assembly (another process, a failing disk) can ever
 * be reported as "every chunk verified".
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { ChunkCorruptError, chunkLength, type Manifest } from '../protocol/mod.js';
import { computeRootHash, sha256Hex } from '../lib/hash.js';

/**
 * Re-hashes the file at `path` chunk by chunk and compares the recomputed root with `manifest.rootHash`.
 * Throws ChunkCorruptError naming the first differing chunk.
 */
export async function verifyFileAgainstManifest(path: string, manifest: Manifest): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size !== manifest.size) {
      throw new ChunkCorruptError(`${path} is ${size} bytes, the manifest says ${manifest.size}`);
    }
    const hashes: string[] = [];
    const buf = Buffer.allocUnsafe(manifest.chunkSize);
    for (let i = 0; i < manifest.chunks.length; i++) {
      const len = chunkLength(manifest, i);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, i * manifest.chunkSize + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      hashes.push(sha256Hex(buf.subarray(0, got)));
    }
    if (computeRootHash(manifest.size, manifest.chunkSize, hashes, manifest.stream) !== manifest.rootHash) {
      const bad = hashes.findIndex((h, i) => h !== manifest.chunks[i]);
      throw new ChunkCorruptError(`${path} does not match the root hash of ${manifest.videoId}` +
        (bad >= 0 ? ` (chunk ${bad} differs)` : ''));
    }
  } finally {
    await fh.close();
  }
}

/**
 * Writes chunks 0..n-1 (from `readChunk`, which must verify what it returns) to a temp file beside `outPath`,
 * syncs it, checks its root, and only then renames it over `outPath`. On any failure the temp file is removed
 * and `outPath` is left as it was.
 */
export async function assembleFile(manifest: Manifest, readChunk: (index: number) => Promise<Uint8Array>,
  outPath: string): Promise<void> {
  // unique per call: two assemblies of one output (which the part lock prevents) could not share a temp file
  const tmp = `${outPath}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const out = await open(tmp, 'wx');
  let closed = false;
  try {
    for (let i = 0; i < manifest.chunks.length; i++) {
      const data = await readChunk(i);
      for (let off = 0; off < data.byteLength;) off += (await out.write(data, off, data.byteLength - off)).bytesWritten;
    }
    await out.sync();
    await out.close();
    closed = true;
    await verifyFileAgainstManifest(tmp, manifest);
    await rename(tmp, outPath);
  } catch (err) {
    if (!closed) await out.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}
