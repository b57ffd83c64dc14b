/** Chunk sources a peer serves from: the download's own `.part` directory, or a complete file on disk. */
import { open } from 'node:fs/promises';
import { chunkLength, sha256Hex, type Manifest } from '../../protocol/mod.js';
import type { PartialDownload } from '../partial.js';
import type { ChunkSource } from './types.js';

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

/**
 * Serves a complete file. Every chunk is hashed against the manifest first: a seed must never hand out bytes it
 * has not verified itself (a damaged chunk is simply not offered).
 */
export async function fileSource(path: string, manifest: Manifest): Promise<ChunkSource & { close(): Promise<void> }> {
  const fh = await open(path, 'r');
  const have = new Array<boolean>(manifest.chunks.length).fill(false);
  const read = async (i: number) => {
    const buf = Buffer.allocUnsafe(chunkLength(manifest, i));
    const { bytesRead } = await fh.read(buf, 0, buf.byteLength, i * manifest.chunkSize);
    return new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
  };
  for (let i = 0; i < manifest.chunks.length; i++) have[i] = sha256Hex(await read(i)) === manifest.chunks[i];
  return {
    has: (i) => have[i] === true,
    read,
    have: () => have.slice(),
    close: () => fh.close(),
  };
}
