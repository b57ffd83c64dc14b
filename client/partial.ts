/**
 * On-disk state of one download. `<output>.part/` holds the manifest, `data` (the output file being built: each
 * verified chunk is written in place at its offset) and `have` (a journal of the chunks written, one u32 each,
 * appended after the chunk's bytes). An interrupted download resumes without re-fetching what it verified: the
 * journal's chunks are re-hashed on open and one that no longer matches (torn by a crash, changed on disk) is
 * fetched again. Chunks are re-verified whenever they are read (for upload or playback), and the output file
 * appears only complete and only after its root hash was checked: finishing is a sync, one hashing pass and a
 * rename of `data` (client/assemble.ts), not a copy. Hashing runs in the thread pool, and the two files stay
 * open for the download's life (`close()`), so a chunk costs a write and a journal append, not a file of its own.
 *
 * Callers hold the directory's lock (client/partlock.ts) while it is open: nothing here guards against a second
 * process writing the same directory.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BadManifestError, ChunkCorruptError, ChunkMissingError, chunkLength, decode, LockedError, Manifest,
  MAX_MANIFEST_MESSAGE_BYTES,
} from '../protocol/mod.js';
import { checkManifest, verifyChunk } from '../lib/hash.js';
import { finishInPlace, readAt } from './assemble.js';

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
  /** makes the complete file `outPath` (a rename of `data`), after syncing it and checking its root hash */
  assemble(outPath: string): Promise<void>;
  /** closes the files (after `assemble`, reads go on working until then: the same file under its new name) */
  close(): Promise<void>;
  /** closes and deletes the directory (the output, once assembled, is not in it) */
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

const DATA = 'data';
const JOURNAL = 'have';
/** the layout before chunks were written in place: one file per chunk, read once into `data` and removed */
const OLD_CHUNKS = 'chunks';

const u32 = (i: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(i, 0);
  return b;
};

/** The journal file of a download's `.part` directory (for observers such as the fault campaign). */
export const journalPathFor = (partDir: string) => join(partDir, JOURNAL);

/**
 * The chunk indexes a journal's bytes name below `count` (a torn last entry is ignored). Written chunks, not
 * verified ones: an open re-hashes them.
 */
export function journalIndexes(bytes: Uint8Array, count: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Set<number>();
  for (let o = 0; o + 4 <= bytes.byteLength; o += 4) {
    const i = view.getUint32(o, true);
    if (i < count) out.add(i);
  }
  return [...out];
}

/** The journal's chunk indexes below `count`, or none without a journal. */
async function journalled(dir: string, count: number): Promise<number[]> {
  return journalIndexes(await readFile(join(dir, JOURNAL)).catch(() => Buffer.alloc(0)), count);
}

async function writeAt(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let off = 0; off < data.byteLength;) {
    off += (await fh.write(data, off, data.byteLength - off, position + off)).bytesWritten;
  }
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
  await mkdir(dir, { recursive: true });
  if (!prev) await saveManifest(dir, manifest);
  const count = manifest.chunks.length;
  let dataPath = join(dir, DATA);
  // not 'a+': positional writes to an O_APPEND file land at its end on Linux
  const file = await open(dataPath, constants.O_RDWR | constants.O_CREAT, 0o644);
  const have = new Set<number>();
  let journal: FileHandle;
  try {
    if ((await file.stat()).size !== manifest.size) await file.truncate(manifest.size);
    const readAtIndex = async (index: number): Promise<Uint8Array> => {
      const buf = new Uint8Array(chunkLength(manifest, index));
      const got = await readAt(file, buf, buf.byteLength, index * manifest.chunkSize);
      return got === buf.byteLength ? buf : buf.subarray(0, got);
    };
    for (const i of await journalled(dir, count)) if (verifyChunk(manifest, i, await readAtIndex(i))) have.add(i);
    for (const name of await readdir(join(dir, OLD_CHUNKS)).catch(() => [] as string[])) {
      const index = Number(name);
      if (!/^\d+$/.test(name) || index >= count || have.has(index)) continue;
      const data = await readFile(join(dir, OLD_CHUNKS, name));
      if (!verifyChunk(manifest, index, data)) continue;
      await writeAt(file, data, index * manifest.chunkSize);
      have.add(index);
    }
    // a fresh journal of exactly the verified chunks (dropping torn, stale and repeated entries), then appends
    const tmp = join(dir, `${JOURNAL}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const fresh = await open(tmp, 'wx');
    try {
      await fresh.writeFile(Buffer.concat([...have].map(u32)));
      await fresh.sync();
    } finally {
      await fresh.close();
    }
    await rename(tmp, join(dir, JOURNAL));
    await rm(join(dir, OLD_CHUNKS), { recursive: true, force: true });
    journal = await open(join(dir, JOURNAL), 'a');
    return partialOver({ dir, manifest, file, journal, have, readAtIndex,
      dataPath: () => dataPath, moved: (to) => (dataPath = to) });
  } catch (err) {
    await file.close().catch(() => {});
    throw err;
  }
}

interface PartialFiles {
  dir: string;
  manifest: Manifest;
  file: FileHandle;
  journal: FileHandle;
  have: Set<number>;
  readAtIndex(index: number): Promise<Uint8Array>;
  dataPath(): string;
  moved(to: string): void;
}

function partialOver(f: PartialFiles): PartialDownload {
  const { dir, manifest, file, journal, have } = f;
  let closed = false;
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
    if (!have.has(index) || closed) throw new ChunkMissingError(manifest.chunks[index] ?? String(index));
    const data = await f.readAtIndex(index).catch(() => new Uint8Array(0));
    if (verifyChunk(manifest, index, data)) return data;
    // the journal still names it: the next open re-hashes it and drops it there too
    have.delete(index);
    throw new ChunkCorruptError(`chunk ${index} in ${dir} changed on disk after it was verified; ` +
      'dropped, it will be fetched again');
  };
  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all([file.close().catch(() => {}), journal.close().catch(() => {})]);
  };
  return {
    dir,
    manifest,
    have: () => [...have].sort((a, b) => a - b),
    hasChunk: (i) => have.has(i),
    // no fsync per chunk: a chunk torn by a crash fails its hash on resume and is fetched again
    async writeChunk(index, data) {
      if (!verifyChunk(manifest, index, data)) return false;
      if (have.has(index)) return true;
      await writeAt(file, data, index * manifest.chunkSize);
      await journal.write(u32(index));
      have.add(index);
      wake(index);
      return true;
    },
    readChunk,
    whenChunk,
    async assemble(outPath) {
      for (let i = 0; i < manifest.chunks.length; i++) {
        if (!have.has(i)) throw new ChunkMissingError(manifest.chunks[i] ?? String(i));
      }
      if (f.dataPath() === outPath) return;
      await finishInPlace(manifest, { path: f.dataPath(), file, drop: (i) => have.delete(i) }, outPath);
      f.moved(outPath);
    },
    close,
    async remove() {
      await close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
