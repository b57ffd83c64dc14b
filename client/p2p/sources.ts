/**
 * Chunk sources a peer serves from: the download's own `.part` directory, or a complete file on disk. Both hash
 * every chunk against the manifest when it is read for upload, not only when it was first verified: a file can
 * change under a running peer (edited, truncated, a failing disk), and a peer must never send bytes it has not
 * just verified itself. A chunk that no longer matches stops being served (`has` turns false) and the read
 * throws, which the uploader answers with a `notHave` reject.
 */
import { open } from 'node:fs/promises';
import { ChunkCorruptError, ChunkMissingError, chunkLength, type Manifest } from '../../protocol/mod.js';
import { verifyChunk } from '../../lib/hash.js';
import type { PartialDownload } from '../partial.js';
import type { ChunkSource } from './types.js';

/** Serves the `.part` directory; `PartialDownload.readChunk` re-verifies and drops a chunk that changed. */
export function partialSource(partial: PartialDownload): ChunkSource {
  const count = partial.manifest.chunks.length;
  return {
    has: (i) => partial.hasChunk(i),
    read: (i) => partial.readChunk(i),
    have: () => {
      const h = new Array<boolean>(count).fill(false);
      for (const i of partial.have()) h[i] = true;
      return h;
    },
  };
}

export interface FileSourceOptions {
  /** told once per chunk that stopped matching the manifest (the seeder reports it to its user) */
  onCorrupt?: (index: number, message: string) => void;
}

/**
 * Serves a complete file. Every chunk is hashed against the manifest at open (a damaged chunk is simply not
 * offered) and again on every read.
 */
export async function fileSource(path: string, manifest: Manifest, opts: FileSourceOptions = {}):
  Promise<ChunkSource & { close(): Promise<void> }> {
  const fh = await open(path, 'r');
  const have = new Array<boolean>(manifest.chunks.length).fill(false);
  const readRaw = async (i: number) => {
    const buf = Buffer.allocUnsafe(chunkLength(manifest, i));
    const { bytesRead } = await fh.read(buf, 0, buf.byteLength, i * manifest.chunkSize);
    return new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
  };
  for (let i = 0; i < manifest.chunks.length; i++) have[i] = verifyChunk(manifest, i, await readRaw(i));
  return {
    has: (i) => have[i] === true,
    async read(i) {
      if (have[i] !== true) throw new ChunkMissingError(manifest.chunks[i] ?? String(i));
      const data = await readRaw(i);
      if (verifyChunk(manifest, i, data)) return data;
      // still checked after the await: a concurrent read of the same chunk may have reported it already
      const first = have[i] === true;
      have[i] = false;
      const message = `chunk ${i} of ${path} no longer matches the manifest (the file changed on disk); ` +
        'it is no longer served';
      if (first) opts.onCorrupt?.(i, message);
      throw new ChunkCorruptError(message);
    },
    have: () => have.slice(),
    close: () => fh.close(),
  };
}
