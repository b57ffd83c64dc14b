/**
 * Ingest one file: probe it, package a video for streaming (HLS/CMAF in one fMP4 file, package.ts), cut the
 * result into fixed-size chunks, hash and store each chunk, and publish the manifest. Chunks are stored before
 * the manifest is published, so a manifest in the catalog never names a chunk the store lacks. Reading is
 * sequential with one chunk buffer, so memory stays flat for any file size. Input ffmpeg cannot package is
 * still delivered, as the plain file it is, with a warning.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import {
  DEFAULT_CHUNK_SIZE, IngestError, MAX_CHUNK_SIZE, MAX_CHUNKS, MIN_CHUNK_SIZE, streamInconsistency, type Manifest,
} from '../../protocol/mod.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import type { Logger } from '../../lib/logger.js';
import type { ChunkStore } from '../../store/types.js';
import { packageForStreaming, type Packaged } from './package.js';
import { probe, type ProbeResult } from './probe.js';
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
  await regularFileSize(req.path);
  const warnings: string[] = [];
  let probed = await probe(req.path);
  if (probed.problem) warnings.push(`not recognised as a video (${probed.problem}); stored as a plain file`);

  let packaged: Packaged | null = null;
  if (req.packaged) {
    const why = streamInconsistency(req.packaged, await regularFileSize(req.path));
    if (why) throw new IngestError(`the stream table does not describe ${req.path}: ${why}`);
    packaged = { path: req.path, stream: req.packaged, mode: 'copy', cleanup: async () => {} };
  } else if (req.stream !== false && probed.media?.video) {
    try {
      packaged = await packageForStreaming(req.path, probed, {
        ...(req.segmentSec ? { segmentSec: req.segmentSec } : {}), ...(req.workDir ? { workDir: req.workDir } : {}),
        ...(req.ffmpeg ? { binary: req.ffmpeg } : {}),
      });
      components.logger.info('packaged for streaming', { mode: packaged.mode, segments: packaged.stream.segments.length });
      // the stored file is the packaged one: describe it, not the input
      const again = await probe(packaged.path);
      if (!again.problem) probed = again;
    } catch (err) {
      warnings.push(`could not package it for streaming (${(err as Error).message}); stored as the plain file it is`);
    }
  }
  try {
    return await chunkAndPublish(req, components, {
      path: packaged?.path ?? req.path, chunkSize, probed, warnings, packaged,
    });
  } finally {
    await packaged?.cleanup();
  }
}

/** The name a packaged video is listed under: its own, with the extension of what it now is. */
function displayName(req: IngestRequest, packaged: Packaged | null): string {
  const name = req.name ?? basename(req.path);
  if (!packaged) return name;
  const ext = extname(name);
  return ext.toLowerCase() === '.mp4' ? name : `${ext ? name.slice(0, -ext.length) : name}.mp4`;
}

async function regularFileSize(path: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new IngestError(`${path} is not a regular file`);
    if (s.size === 0) throw new IngestError(`${path} is empty: nothing to ingest`);
    return s.size;
  } catch (err) {
    if (err instanceof IngestError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new IngestError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? String(err)}`,
      { cause: err });
  }
}

async function chunkAndPublish(req: IngestRequest, components: IngestComponents, x: {
  path: string; chunkSize: number; probed: ProbeResult; warnings: string[]; packaged: Packaged | null;
}): Promise<IngestResult> {
  const { chunkSize, probed, warnings } = x;
  const size = await regularFileSize(x.path);
  if (Math.ceil(size / chunkSize) > MAX_CHUNKS) {
    throw new IngestError(`file needs more than ${MAX_CHUNKS} chunks at ${chunkSize} bytes: use a larger chunk size`);
  }
  let fh: FileHandle;
  try {
    fh = await open(x.path, 'r');
  } catch (err) {
    throw new IngestError(`cannot open ${x.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  const chunks: string[] = [];
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    for (let offset = 0; offset < size; offset += chunkSize) {
      const want = Math.min(chunkSize, size - offset);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
        if (bytesRead === 0) throw new IngestError(`${x.path} shrank while being read`);
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
    name: displayName(req, x.packaged),
    mime: x.packaged ? 'video/mp4' : probed.mime,
    size,
    chunkSize,
    chunks,
    ...(probed.media ? { media: probed.media } : {}),
    ...(x.packaged ? { stream: x.packaged.stream } : {}),
  });
  await components.publish(manifest);
  components.logger.info('ingested', { videoId: manifest.videoId, size, chunks: chunks.length,
    streamable: Boolean(manifest.stream) });
  return { manifest, warnings };
}
