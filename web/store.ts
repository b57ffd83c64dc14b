/**
 * The browser's chunk storage: verified chunks in memory, bounded. A page is not a whole-file store: chunks far
 * behind the playhead are evicted, and when the total passes `maxBytes` the chunks farthest from the playhead
 * go first. Whatever is held is served to peers (it is a ChunkSource, like the Node `.part` directory); an
 * evicted chunk simply stops being offered (`has` false, so a request for it is refused with `notHave`), and the
 * engine fetches it again if playback comes back to it. Only chunks the engine verified are ever put here, and
 * memory is this page's own, so reads are not re-hashed (the Node sources re-hash because a disk can change).
 */
import { ChunkMissingError, type Manifest } from '../protocol/mod.js';
import type { ChunkSource } from '../client/p2p/types.js';

export interface MemoryStoreOptions {
  /** chunks kept behind the playhead (default 16) */
  keepBehindChunks?: number;
  /** most bytes held at once (default 256 MiB) */
  maxBytes?: number;
  /** chunks never evicted (the init segment: a player re-reads it on every seek to a new track) */
  pinned?: readonly number[];
}

export interface MemoryStore extends ChunkSource {
  /** stores a chunk the caller verified */
  put(index: number, data: Uint8Array): void;
  /** the chunk's bytes, or undefined when not held */
  get(index: number): Uint8Array | undefined;
  /** where playback is (a chunk index): chunks far behind it are evicted */
  setPlayhead(index: number): void;
  /** chunks that must stay while a read of them is in progress */
  hold(first: number, last: number): () => void;
  readonly heldBytes: number;
  readonly heldChunks: number;
  readonly evictedChunks: number;
}

export function createMemoryStore(manifest: Manifest, opts: MemoryStoreOptions = {}): MemoryStore {
  const count = manifest.chunks.length;
  const keepBehind = Math.max(0, opts.keepBehindChunks ?? 16);
  const maxBytes = Math.max(manifest.chunkSize * 4, opts.maxBytes ?? 256 * 1024 * 1024);
  const pinned = new Set(opts.pinned ?? []);
  const chunks = new Map<number, Uint8Array>();
  const have = new Array<boolean>(count).fill(false);
  /** reads in progress, per chunk */
  const holds = new Map<number, number>();
  let bytes = 0;
  let evicted = 0;
  let playhead = 0;

  const drop = (i: number) => {
    const d = chunks.get(i);
    if (!d || pinned.has(i) || (holds.get(i) ?? 0) > 0) return false;
    chunks.delete(i);
    have[i] = false;
    bytes -= d.byteLength;
    evicted++;
    return true;
  };

  const evict = () => {
    for (const i of [...chunks.keys()]) if (i < playhead - keepBehind) drop(i);
    if (bytes <= maxBytes) return;
    // still too much: farthest from the playhead first (behind it counts double: playback rarely goes back)
    const order = [...chunks.keys()].sort((a, b) => distance(b) - distance(a));
    for (const i of order) {
      if (bytes <= maxBytes) break;
      drop(i);
    }
  };
  const distance = (i: number) => (i < playhead ? 2 * (playhead - i) : i - playhead);

  return {
    put(index, data) {
      if (index < 0 || index >= count || chunks.has(index)) return;
      chunks.set(index, data);
      have[index] = true;
      bytes += data.byteLength;
      evict();
    },
    get: (index) => chunks.get(index),
    has: (index) => have[index] === true,
    async read(index) {
      const d = chunks.get(index);
      if (!d) throw new ChunkMissingError(manifest.chunks[index] ?? String(index));
      return d;
    },
    have: () => have.slice(),
    setPlayhead(index) {
      playhead = Math.max(0, Math.min(count - 1, Math.floor(index)));
      evict();
    },
    hold(first, last) {
      for (let i = first; i <= last; i++) holds.set(i, (holds.get(i) ?? 0) + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        for (let i = first; i <= last; i++) {
          const n = (holds.get(i) ?? 1) - 1;
          if (n > 0) holds.set(i, n);
          else holds.delete(i);
        }
      };
    },
    get heldBytes() {
      return bytes;
    },
    get heldChunks() {
      return chunks.size;
    },
    get evictedChunks() {
      return evicted;
    },
  };
}
