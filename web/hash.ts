/**
 * The browser's hashing edge: SHA-256 by WebCrypto (`crypto.subtle.digest`), which is asynchronous, so chunk and
 * manifest checks here are async versions of protocol/manifest.ts's (same rules, same root-hash text). WebCrypto
 * exists only in secure contexts (https, or http on localhost / 127.0.0.1): without it nothing is trusted.
 */
import {
  BadManifestError, chunkCount, chunkLength, Manifest, rootHashText, streamInconsistency, validate, videoIdFromRoot,
} from '../protocol/mod.js';

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('WebCrypto is unavailable (the page must be served over https or from localhost)');
  return s;
}

/** SHA-256 of `data`, lowercase hex. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await subtle().digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  let out = '';
  for (const b of d) out += HEX[b]!;
  return out;
}

/** True when `data` is exactly chunk `index` of `m` (length, then SHA-256): protocol's verifyChunk, async. */
export async function verifyChunk(m: Pick<Manifest, 'size' | 'chunkSize' | 'chunks'>, index: number,
  data: Uint8Array): Promise<boolean> {
  if (index < 0 || index >= m.chunks.length || data.byteLength !== chunkLength(m, index)) return false;
  return (await sha256Hex(data)) === m.chunks[index];
}

/**
 * protocol's checkManifest, async: schema, chunk count, stream table, root hash (over `rootHashText`) and the id
 * derived from it. A manifest is the root of every later chunk check, so nothing runs before it passes.
 */
export async function checkManifest(value: unknown, expectedVideoId: string): Promise<Manifest> {
  const m = validate(Manifest, value, 'manifest');
  const bad = (why: string) => new BadManifestError(`manifest of ${m.videoId} is inconsistent: ${why}`);
  if (m.chunks.length !== chunkCount(m.size, m.chunkSize)) throw bad('chunk count does not match size / chunkSize');
  if (m.stream) {
    const why = streamInconsistency(m.stream, m.size);
    if (why) throw bad(`stream: ${why}`);
  }
  const root = await sha256Hex(encoder.encode(rootHashText(m.size, m.chunkSize, m.chunks, m.stream)));
  if (root !== m.rootHash) throw bad('root hash does not match chunk list');
  if (m.videoId !== videoIdFromRoot(m.rootHash)) throw bad('video id does not match root hash');
  if (m.videoId !== expectedVideoId) throw new BadManifestError(`manifest is for ${m.videoId}, not ${expectedVideoId}`);
  return m;
}
