/** A small real manifest over random bytes, for the security unit tests (no stack needed). */
import { randomBytes } from 'node:crypto';
import { buildManifest, chunkCount, sha256Hex, type Manifest } from '../../protocol/mod.js';

export const CHUNK = 16 * 1024;

export function sampleVideo(name = 'clip.mp4', chunks = 5): { data: Buffer; manifest: Manifest } {
  const data = randomBytes(CHUNK * (chunks - 1) + 777);
  const hashes: string[] = [];
  for (let i = 0; i < chunkCount(data.byteLength, CHUNK); i++) hashes.push(sha256Hex(data.subarray(i * CHUNK, (i + 1) * CHUNK)));
  return { data, manifest: buildManifest({ name, mime: 'video/mp4', size: data.byteLength, chunkSize: CHUNK, chunks: hashes }) };
}

export const chunkOf = (data: Buffer, i: number) => data.subarray(i * CHUNK, (i + 1) * CHUNK);
