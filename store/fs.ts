/**
 * Filesystem chunk store, the embedded default. Files live at `<root>/<ab>/<cd>/<hash>`: two levels of fan-out
 * keep directories small for millions of chunks. Writes go to a unique temp file in the same directory and are
 * renamed into place, so a reader never sees a half-written chunk and a crash leaves only a stray temp file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BadRequestError, ChunkCorruptError, ChunkMissingError, sha256Hex } from '../protocol/mod.js';
import { HASH_PATTERN, type ChunkStore } from './types.js';

export interface FsChunkStoreInit {
  root: string;
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
      try {
        const s = await stat(p);
        if (s.size === data.byteLength) return;
      } catch {
        /* absent: write it */
      }
      const dir = join(init.root, hash.slice(0, 2), hash.slice(2, 4));
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `.${hash}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        await writeFile(tmp, data, { flag: 'wx' });
        await rename(tmp, p);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
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
