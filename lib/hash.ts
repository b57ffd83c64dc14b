/**
 * node:crypto bound into protocol/'s hashing operations. Node code imports manifest hashing, chunk checks and
 * grants from here; protocol/ only defines them over an injected `Hasher`, so it carries no platform crypto.
 */
import { createHash, createHmac, webcrypto } from 'node:crypto';
import { chunkLength, grantSigning, manifestHashing, type Hasher, type Manifest } from '../protocol/mod.js';

export const nodeHasher: Hasher = {
  sha256: (data) => createHash('sha256').update(data).digest('hex'),
  hmacSha256: (key, data) => new Uint8Array(createHmac('sha256', key).update(data).digest()),
};

export const {
  sha256Hex, computeRootHash, buildManifest, manifestInconsistency, checkManifest, verifyChunk,
} = manifestHashing(nodeHasher);

export const { signGrant, verifyGrant } = grantSigning(nodeHasher);

/** SHA-256 of `data` as hex, computed in the thread pool (WebCrypto) instead of on the event loop. */
export async function sha256Async(data: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex');
}

/** True when `data` is exactly chunk `index` of `m` (length and SHA-256), hashed off the event loop. */
export async function verifyChunkAsync(m: Pick<Manifest, 'size' | 'chunkSize' | 'chunks'>, index: number,
  data: Uint8Array): Promise<boolean> {
  return index >= 0 && index < m.chunks.length && data.byteLength === chunkLength(m, index) &&
    (await sha256Async(data)) === m.chunks[index];
}
