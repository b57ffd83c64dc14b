/**
 * node:crypto bound into protocol/'s hashing operations. Node code imports manifest hashing, chunk checks and
 * grants from here; protocol/ only defines them over an injected `Hasher`, so it carries no platform crypto.
 */
import { createHash, createHmac } from 'node:crypto';
import { grantSigning, manifestHashing, type Hasher } from '../protocol/mod.js';

export const nodeHasher: Hasher = {
  sha256: (data) => createHash('sha256').update(data).digest('hex'),
  hmacSha256: (key, data) => new Uint8Array(createHmac('sha256', key).update(data).digest()),
};

export const {
  sha256Hex, computeRootHash, buildManifest, manifestInconsistency, checkManifest, verifyChunk,
} = manifestHashing(nodeHasher);

export const { signGrant, verifyGrant } = grantSigning(nodeHasher);
