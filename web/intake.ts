/**
 * Every chunk that enters the page goes through here: fetched from the origin (under a grant) or a peer, or
 * offered from elsewhere (the watch page's start window), verified with WebCrypto against the checked manifest,
 * then kept once: stored, counted by source, announced to the swarm (`have`) and to whoever waits for it. A chunk
 * that fails its check is never kept, and the fetch fails `corrupt` (the caller bans a peer that sent it).
 */
import { FetchFailure, fetchOriginChunk } from '../client/http.js';
import type { Swarm } from '../client/p2p/swarm.js';
import type { ChunkSource } from '../machines/download/types.js';
import type { Manifest } from '../protocol/mod.js';
import { verifyChunk } from './hash.js';
import { markOnce } from './marks.js';
import type { MemoryStore } from './store.js';

/** Chunks and bytes by where they came from. */
export interface IntakeCounters {
  verified: number;
  corrupt: number;
  origin: number;
  peers: number;
  byPeer: Record<string, number>;
}

export interface ChunkIntake {
  /** fetches chunk `index` from `source`, verifies and keeps it; resolves with its length, throws FetchFailure */
  fetch(source: ChunkSource, index: number, grant: string, signal?: AbortSignal): Promise<number>;
  /** a chunk obtained elsewhere: verified, then kept as from `source`; false when it is not chunk `index` */
  offer(index: number, data: Uint8Array, source: ChunkSource): Promise<boolean>;
  /** verified at least once (maybe evicted since): the machine counts it as downloaded */
  fetchedOnce(index: number): boolean;
  readonly counters: Readonly<IntakeCounters>;
}

export function createChunkIntake(
  init: { gateway: string; manifest: Manifest },
  c: {
    store: Pick<MemoryStore, 'has' | 'put'>;
    swarm: Pick<Swarm, 'request' | 'noteHave'>;
    /** a chunk was kept (wakes its waiters) */
    arrived(index: number): void;
    /** anything in the counters changed */
    changed(): void;
  },
): ChunkIntake {
  const { manifest } = init;
  const counters: IntakeCounters = { verified: 0, corrupt: 0, origin: 0, peers: 0, byPeer: {} };
  const once = new Array<boolean>(manifest.chunks.length).fill(false);

  const keep = (source: ChunkSource, index: number, data: Uint8Array) => {
    if (c.store.has(index)) return;
    once[index] = true;
    c.store.put(index, data);
    counters.verified++;
    if (source === 'origin') counters.origin += data.byteLength;
    else {
      counters.peers += data.byteLength;
      const p = source.slice('peer:'.length);
      counters.byPeer[p] = (counters.byPeer[p] ?? 0) + data.byteLength;
    }
    c.swarm.noteHave(index);
    markOnce(`chunk.${source === 'origin' ? 'origin' : 'peer'}`);
    c.arrived(index);
    c.changed();
  };
  const check = async (index: number, data: Uint8Array) => {
    if (await verifyChunk(manifest, index, data)) return true;
    counters.corrupt++;
    c.changed();
    return false;
  };

  return {
    async fetch(source, index, grant, signal) {
      const data = source === 'origin'
        ? await fetchOriginChunk({ gateway: init.gateway, videoId: manifest.videoId, index, grant,
          ...(signal ? { signal } : {}) })
        : await c.swarm.request(source.slice('peer:'.length), index, signal);
      if (!(await check(index, data))) throw new FetchFailure('corrupt', `chunk ${index} from ${source} failed verification`);
      keep(source, index, data);
      return data.byteLength;
    },
    async offer(index, data, source) {
      if (!Number.isInteger(index) || index < 0 || index >= manifest.chunks.length) return false;
      if (c.store.has(index)) return true;
      if (!(await check(index, data))) return false;
      keep(source, index, data);
      return true;
    },
    fetchedOnce: (index) => once[index] === true,
    counters,
  };
}
