/**
 * On-disk state of one download: `<output>.part/` holds the manifest and every verified chunk as its own file,
 * so an interrupted download resumes without re-fetching what it already verified (chunks are re-hashed on
 * resume; a damaged file is dropped and fetched again). Chunk writes are atomic (temp + rename), chunks are
 * re-verified whenever they are read (for upload or assembly), and the output file appears only complete and
 * only after its root hash was checked (client/assemble.ts).
 *
 * Callers hold the directory's lock (client/partlock.ts) while it is open: nothing here guards against a second
 * process writing the same directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BadManifestError, ChunkCorruptError, ChunkMissingError, decode, LockedError, Manifest, MAX_MANIFEST_MESSAGE_BYTES,
} from '../protocol/mod.js';
import { checkManifest, verifyChunk } from '../lib/hash.js';
import { assembleFile } from './assemble.js';

export interface PartialDownload {
  readonly dir: string;
  readonly manifest: Manifest;
  /** indexes of chunks present and verified on disk */
  have(): number[];
  hasChunk(index: number): boolean;
  /** verifies and stores one chunk; returns false (and stores nothing) when the bytes do not match */
  writeChunk(index: number, data: Uint8Array): Promise<boolean>;
  /**
   * The chunk's bytes, re-verified: a file that no longer matches (changed on disk) is dropped from `have` and
   * deleted, and ChunkCorruptError is thrown, so unverified bytes are never uploaded or assembled.
   */
  readChunk(index: number): Promise<Uint8Array>;
  /**
   * Resolves once chunk `index` is verified on disk (at once when it already is); rejects with the signal's
   * reason when aborted. For readers that follow a running download (client/play/); callers bound how many wait.
   */
  whenChunk(index: number, signal?: AbortSignal): Promise<void>;
  /** writes the complete file to `outPath` atomically, after checking its root hash */
  assemble(outPath: string): Promise<void>;
  remove(): Promise<void>;
}

export const partialDirFor = (outPath: string) => `${outPath}.part`;

const manifestPathOf = (dir: string) => join(dir, 'manifest.json');

/**
 * The manifest a previous run saved, or null when there is none. A saved manifest is checked like any other
 * (a `.part` directory is input too): one that cannot be parsed or is inconsistent is a BadManifestError.
 */
export async function savedManifest(dir: string): Promise<Manifest | null> {
  const path = manifestPathOf(dir);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let m: Manifest;
  try {
    m = decode(Manifest, bytes, { maxBytes: MAX_MANIFEST_MESSAGE_BYTES, what: 'saved manifest' });
  } catch (err) {
    throw new BadManifestError(`${path} is not a valid manifest (${(err as Error).message}); ` +
      `remove ${dir} to start over`);
  }
  return checkManifest(m, undefined, `saved manifest ${path}`);
}

/** Written atomically and synced: a torn manifest would make the directory unusable (it is refused above). */
async function saveManifest(dir: string, manifest: Manifest): Promise<void> {
  const tmp = `${manifestPathOf(dir)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(JSON.stringify(manifest));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, manifestPathOf(dir));
}

/** Scans `dir` for verified chunks of `manifest`; a foreign or damaged chunk file is deleted. */
export async function scanVerified(dir: string, manifest: Manifest): Promise<number[]> {
  const out: number[] = [];
  let names: string[] = [];
  try {
    names = await readdir(join(dir, 'chunks'));
  } catch {
    return out;
  }
  for (const name of names) {
    const index = Number(name);
    const p = join(dir, 'chunks', name);
    if (!/^\d+$/.test(name) || index >= manifest.chunks.length) {
      await rm(p, { force: true });
      continue;
    }
    if (verifyChunk(manifest, index, await readFile(p))) out.push(index);
    else await rm(p, { force: true });
  }
  return out.sort((a, b) => a - b);
}

export async function openPartial(dir: string, manifest: Manifest): Promise<PartialDownload> {
  checkManifest(manifest);
  const prev = await savedManifest(dir);
  if (prev && prev.rootHash !== manifest.rootHash) {
    // Refused rather than started afresh: the directory holds another video's verified chunks (two videos with
    // one name), and wiping them would silently throw away that download's progress. The user decides.
    throw new LockedError(`${dir} holds a partial download of another video (${prev.videoId}, ` +
      `${JSON.stringify(prev.name)}); choose another output with -o, or remove ${dir} to start over`);
  }
  await mkdir(join(dir, 'chunks'), { recursive: true });
  if (!prev) await saveManifest(dir, manifest);
  const have = new Set(await scanVerified(dir, manifest));
  const chunkPath = (i: number) => join(dir, 'chunks', String(i));
  const waiters = new Map<number, Set<() => void>>();
  const wake = (index: number) => {
    const set = waiters.get(index);
    if (!set) return;
    waiters.delete(index);
    for (const w of set) w();
  };
  const whenChunk = (index: number, signal?: AbortSignal): Promise<void> => {
    if (have.has(index)) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const set = waiters.get(index) ?? new Set<() => void>();
      waiters.set(index, set);
      const onAbort = () => {
        set.delete(waiter);
        if (set.size === 0 && waiters.get(index) === set) waiters.delete(index);
        reject(signal?.reason);
      };
      const waiter = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      set.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  };
  const readChunk = async (index: number): Promise<Uint8Array> => {
    if (!have.has(index)) throw new ChunkMissingError(manifest.chunks[index] ?? String(index));
    const data = new Uint8Array(await readFile(chunkPath(index)).catch(() => new Uint8Array(0)));
    if (verifyChunk(manifest, index, data)) return data;
    have.delete(index);
    await rm(chunkPath(index), { force: true });
    throw new ChunkCorruptError(`chunk ${index} in ${dir} changed on disk after it was verified; ` +
      'dropped, it will be fetched again');
  };
  return {
    dir,
    manifest,
    have: () => [...have].sort((a, b) => a - b),
    hasChunk: (i) => have.has(i),
    // no fsync per chunk: a chunk torn by a crash fails its hash on resume and is fetched again
    async writeChunk(index, data) {
      if (!verifyChunk(manifest, index, data)) return false;
      const tmp = `${chunkPath(index)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(tmp, data);
      await rename(tmp, chunkPath(index));
      have.add(index);
      wake(index);
      return true;
    },
    readChunk,
    whenChunk,
    assemble: (outPath) => assembleFile(manifest, {
      readChunk,
      readRaw: async (index) => {
        if (!have.has(index)) throw new ChunkMissingError(manifest.chunks[index] ?? String(index));
        return new Uint8Array(await readFile(chunkPath(index)).catch(() => new Uint8Array(0)));
      },
    }, outPath),
    async remove() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
