/**
 * The chunk store: content-addressed blobs keyed by their SHA-256 (hex). Every implementation verifies the hash
 * on `put`, so a store can never hold bytes under a name they do not have, and `put` is idempotent.
 */
export interface ChunkStore {
  readonly kind: 'fs' | 'gridfs';
  /** Stores `data` under `hash`; throws ChunkCorruptError when sha256(data) ≠ hash. Idempotent. */
  put(hash: string, data: Uint8Array): Promise<void>;
  /** The whole chunk; throws ChunkMissingError when absent. */
  get(hash: string): Promise<Uint8Array>;
  has(hash: string): Promise<boolean>;
  /** Removes the chunk; no error when absent. */
  delete(hash: string): Promise<void>;
  close(): Promise<void>;
}

export const HASH_PATTERN = /^[0-9a-f]{64}$/;
