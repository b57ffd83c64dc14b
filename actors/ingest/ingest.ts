/**
 * Ingest one file: probe it, cut it into fixed-size chunks, hash and store each chunk, and publish the manifest.
 * Chunks are stored before the manifest is published, so a manifest in the catalog never names a chunk the
 * store lacks. Reading is sequential with one chunk buffer, so memory stays flat for any file size.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  DEFAULT_CHUNK_SIZE, IngestError, MAX_CHUNK_SIZE, MAX_CHUNKS, MIN_CHUNK_SIZE, type Manifest,
} from '../../protocol/mod.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import type { Logger } from '../../lib/logger.js';
import type { ChunkStore } from '../../store/types.js';
import { probe } from './probe.js';
import type { IngestRequest, IngestResult } from './types.js';

export interface IngestComponents {
  store: ChunkStore;
  publish(manifest: Manifest): Promise<unknown>;
  logger: Logger;
}

export async function ingestFile(req: IngestRequest, components: IngestComponents): Promise<IngestResult> {
  const chunkSize = req.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new IngestError(`chunk size must be an integer between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE} bytes`);
  }
  let size: number;
  try {
    const s = await stat(req.path);
    if (!s.isFile()) throw new IngestError(`${req.path} is not a regular file`);
    size = s.size;
  } catch (err) {
    if (err instanceof IngestError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new IngestError(`cannot read ${req.path}: ${code === 'ENOENT' ? 'no such file' : code ?? String(err)}`,
      { cause: err });
  }
  if (size === 0) throw new IngestError(`${req.path} is empty: nothing to ingest`);
  if (Math.ceil(size / chunkSize) > MAX_CHUNKS) {
    throw new IngestError(`file needs more than ${MAX_CHUNKS} chunks at ${chunkSize} bytes: use a larger chunk size`);
  }

  const warnings: string[] = [];
  const probed = await probe(req.path);
  if (probed.problem) warnings.push(`not recognised as a video (${probed.problem}); stored as a plain file`);

  let fh: FileHandle;
  try {
    fh = await open(req.path, 'r');
  } catch (err) {
    throw new IngestError(`cannot open ${req.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  const chunks: string[] = [];
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    for (let offset = 0; offset < size; offset += chunkSize) {
      const want = Math.min(chunkSize, size - offset);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
        if (bytesRead === 0) throw new IngestError(`${req.path} shrank while being read`);
        got += bytesRead;
      }
      const data = buf.subarray(0, want);
      const hash = sha256Hex(data);
      await components.store.put(hash, data);
      chunks.push(hash);
    }
  } finally {
    await fh.close();
  }
  const manifest = buildManifest({
    name: req.name ?? basename(req.path),
    mime: probed.mime,
    size,
    chunkSize,
    chunks,
    ...(probed.media ? { media: probed.media } : {}),
  });
  await components.publish(manifest);
  components.logger.info('ingested', { videoId: manifest.videoId, size, chunks: chunks.length });
  return { manifest, warnings };
}
