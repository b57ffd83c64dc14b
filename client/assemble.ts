/**
 * Finishing a download, and refusing to call it done unless the file itself proves it. Every chunk was verified
 * before it was written in place, and is re-verified whenever it is uploaded, but the output is what the user
 * keeps: the file is synced, read back chunk by chunk and its root hash recomputed exactly as
 * protocol/manifest.ts defines it. Only a file whose root equals the manifest's is renamed to the output path,
 * so nothing that changed on disk between verification and the end (another process, a failing disk) can ever
 * be reported as "every chunk verified".
 */
import { open, rename, type FileHandle } from 'node:fs/promises';
import { ChunkCorruptError, chunkLength, type Manifest } from '../protocol/mod.js';
import { computeRootHash, sha256Hex } from '../lib/hash.js';

/** Reads `len` bytes at `position` into `buf` (fewer only at the end of the file); returns how many were read. */
export async function readAt(fh: FileHandle, buf: Uint8Array, len: number, position: number): Promise<number> {
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * Re-hashes the file at `path` chunk by chunk and compares the recomputed root with `manifest.rootHash`.
 * Throws ChunkCorruptError naming the first differing chunk.
 */
export async function verifyFileAgainstManifest(path: string, manifest: Manifest): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const bad = await firstBadChunk(fh, path, manifest);
    if (bad === null) return;
    throw new ChunkCorruptError(`${path} does not match the root hash of ${manifest.videoId}` +
      (bad >= 0 ? ` (chunk ${bad} differs)` : ''));
  } finally {
    await fh.close();
  }
}

/**
 * Null when the open file has the manifest's size and root hash; else the first chunk whose hash differs
 * (-1: none differs, the root still does). A size mismatch throws ChunkCorruptError.
 */
async function firstBadChunk(fh: FileHandle, path: string, manifest: Manifest): Promise<number | null> {
  const { size } = await fh.stat();
  if (size !== manifest.size) {
    throw new ChunkCorruptError(`${path} is ${size} bytes, the manifest says ${manifest.size}`);
  }
  const hashes: string[] = new Array<string>(manifest.chunks.length);
  // chunk by chunk, reads overlapped: a whole file hashed in one go would stall everything else this process
  // does (uploads to peers, other downloads) for as long as it takes; one chunk's hash is ~0.2 ms
  let next = 0;
  const worker = async () => {
    const buf = Buffer.allocUnsafe(manifest.chunkSize);
    for (let i = next++; i < manifest.chunks.length; i = next++) {
      const got = await readAt(fh, buf, chunkLength(manifest, i), i * manifest.chunkSize);
      hashes[i] = sha256Hex(buf.subarray(0, got));
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, manifest.chunks.length) }, worker));
  if (computeRootHash(manifest.size, manifest.chunkSize, hashes, manifest.stream) === manifest.rootHash) return null;
  return hashes.findIndex((h, i) => h !== manifest.chunks[i]);
}

/** The file a download wrote its chunks into, in place. */
export interface FinishSource {
  /** where it is */
  path: string;
  /** open for reading (and writing) */
  file: FileHandle;
  /** forget a chunk that no longer matches (it will be fetched again) */
  drop(index: number): void;
}

/**
 * Syncs the in-place file and checks its root (at once), and only then renames it to `outPath`. A chunk that
 * differs is dropped (so it is fetched again) and ChunkCorruptError is thrown; `outPath` is then left as it was.
 * The handle stays open and valid after the rename (the same file, under its new name).
 */
export async function finishInPlace(manifest: Manifest, source: FinishSource, outPath: string): Promise<void> {
  // the read-back comes from the page cache whether or not the sync has finished, so the two overlap; both end
  // before the rename
  const [, bad] = await Promise.all([source.file.sync(), firstBadChunk(source.file, source.path, manifest)]);
  if (bad !== null) {
    if (bad >= 0) source.drop(bad);
    throw new ChunkCorruptError(`${source.path} does not match the root hash of ${manifest.videoId}` +
      (bad >= 0 ? ` (chunk ${bad} differs; dropped, it will be fetched again)` : ''));
  }
  await rename(source.path, outPath);
}
