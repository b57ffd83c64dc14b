/**
 * The chunk store: content-addressed blobs keyed by their SHA-256 (hex). Every implementation verifies the hash
 * on `put`, so a store can never hold bytes under a name they do not have, and `put` is idempotent.
 */
import type { Readable } from 'node:stream';

/** Inclusive byte offsets into a chunk (as HTTP `Range` counts them): 0 ≤ start ≤ end. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A chunk opened for reading. Nothing has been read yet: the caller checks `size` (what the store holds now,
 * which may differ from what a manifest says if the file was damaged) before letting any byte flow, and must
 * consume or `destroy()` the stream, which releases what `open` took (a file descriptor, a cursor).
 */
export interface ChunkReader {
  /** the stored object's size in bytes, as the store reports it (fstat, the GridFS file document) */
  readonly size: number;
  /** the requested bytes (all of them without a range), paused until consumed */
  readonly stream: Readable;
}

/** How to read an opened chunk. */
export interface ChunkOpenOptions {
  /**
   * Memory to read into instead of allocating: when the requested bytes fit, they are read into `buffer` and the
   * stream pushes a view of it. A server reusing its buffers allocates nothing per response (a fresh buffer per
   * chunk is external memory that V8 reclaims with full mark-compacts). The caller must not reuse `buffer` before
   * the stream has closed and whatever consumed the view is done with it. Stores that cannot read into caller
   * memory (GridFS, whose driver hands out its own buffers) ignore it.
   */
  buffer?: Uint8Array;
}

export interface ChunkStore {
  readonly kind: 'fs' | 'gridfs';
  /** Stores `data` under `hash`; throws ChunkCorruptError when sha256(data) ≠ hash. Idempotent. */
  put(hash: string, data: Uint8Array): Promise<void>;
  /** The whole chunk; throws ChunkMissingError when absent. */
  get(hash: string): Promise<Uint8Array>;
  /**
   * Opens the chunk for streaming (`range` within the stored size, else the stream ends early or errors: check
   * `size` first); throws ChunkMissingError when absent. For sending bytes from the store to a socket without
   * gathering the chunk first.
   */
  open(hash: string, range?: ByteRange, opts?: ChunkOpenOptions): Promise<ChunkReader>;
  has(hash: string): Promise<boolean>;
  /** Removes the chunk; no error when absent. */
  delete(hash: string): Promise<void>;
  close(): Promise<void>;
}

export const HASH_PATTERN = /^[0-9a-f]{64}$/;
