/**
 * Filesystem chunk store, the embedded default. Files live at `<root>/<ab>/<cd>/<hash>`: two levels of fan-out
 * keep directories small for millions of chunks. Writes go to a unique temp file in the same directory, are
 * fsynced and renamed into place, and the directory is fsynced after the rename: a reader never sees a
 * half-written chunk, and a chunk `put` reported stored survives a power loss (ingest publishes the manifest
 * right after, and a manifest naming a lost chunk would serve 503s forever). A crash leaves only a stray temp.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BadRequestError, ChunkCorruptError, ChunkMissingError } from '../protocol/mod.js';
import { sha256Hex } from '../lib/hash.js';
import { HASH_PATTERN, type ChunkStore } from './types.js';

export interface FsChunkStoreInit {
  root: string;
}

/** True when `path` exists and hashes to `hash`; a damaged or truncated file is false (and gets replaced). */
async function holdsIntact(path: string, hash: string): Promise<boolean> {
  try {
    return sha256Hex(await readFile(path)) === hash;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Makes a directory's entries (a rename, a new subdirectory) durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function createFsChunkStore(init: FsChunkStoreInit): ChunkStore {
  const pathOf = (hash: string) => {
    // The hash becomes a path: only exact lowercase hex may reach the filesystem (no traversal).
    if (!HASH_PATTERN.test(hash)) throw new BadRequestError(`not a SHA-256 hex digest: ${JSON.stringify(hash)}`);
    return join(init.root, hash.slice(0, 2), hash.slice(2, 4), hash);
  };
  return {
    kind: 'fs',
    async put(hash, data) {
      const p = pathOf(hash);
      if (sha256Hex(data) !== hash) throw new ChunkCorruptError(`data does not hash to ${hash}`);
      // An existing file is skipped only if it still hashes to its name: a size check alone would keep a chunk
      // damaged on disk forever, since re-ingesting the same video is the natural way to repair it.
      if (await holdsIntact(p, hash)) return;
      const dir = join(init.root, hash.slice(0, 2), hash.slice(2, 4));
      const created = await mkdir(dir, { recursive: true });
      const tmp = join(dir, `.${hash}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        const fh = await open(tmp, 'wx');
        try {
          await fh.writeFile(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, p);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      await syncDir(dir);
      // new fan-out directories are entries of their parents, which need syncing too
      if (created) {
        await syncDir(join(init.root, hash.slice(0, 2)));
        await syncDir(init.root);
      }
    },
    async get(hash) {
      try {
        const buf = await readFile(pathOf(hash));
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ChunkMissingError(hash);
        throw err;
      }
    },
    async has(hash) {
      try {
        await stat(pathOf(hash));
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    },
    async delete(hash) {
      await rm(pathOf(hash), { force: true });
    },
    async close() {},
  };
}
