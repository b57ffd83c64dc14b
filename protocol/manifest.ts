/**
 * The manifest: what a client needs to fetch a video from anyone and trust none of them. Every chunk's SHA-256
 * is listed; the root hash binds the whole list (and size and chunk size), so peers can check in a handshake
 * that they talk about the same bytes, and the video id is derived from it so an id names exactly one content.
 */
import { Type, type Static } from '@sinclair/typebox';
import { BadManifestError } from './errors.js';
import type { Hasher } from './hash.js';
import { StreamInfo, streamInconsistency, streamRootText } from './stream.js';

export const MANIFEST_VERSION = 1 as const;
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
export const MIN_CHUNK_SIZE = 16 * 1024;
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024;
/** A manifest must fit in one NATS message (max_payload 8 MiB in infra/nats.conf); 65536 chunks ≈ 4.5 MiB. */
export const MAX_CHUNKS = 65536;

export const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
export const VideoId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });

export const MediaInfo = Type.Object({
  format: Type.String({ maxLength: 128 }),
  durationSec: Type.Optional(Type.Number({ minimum: 0 })),
  bitRate: Type.Optional(Type.Number({ minimum: 0 })),
  video: Type.Optional(Type.Object({
    codec: Type.String({ maxLength: 64 }),
    width: Type.Integer({ minimum: 0 }),
    height: Type.Integer({ minimum: 0 }),
  })),
  audio: Type.Optional(Type.Object({ codec: Type.String({ maxLength: 64 }) })),
});
export type MediaInfo = Static<typeof MediaInfo>;

export const Manifest = Type.Object({
  version: Type.Literal(MANIFEST_VERSION),
  videoId: VideoId,
  name: Type.String({ minLength: 1, maxLength: 255 }),
  mime: Type.String({ minLength: 1, maxLength: 127 }),
  size: Type.Integer({ minimum: 1 }),
  chunkSize: Type.Integer({ minimum: MIN_CHUNK_SIZE, maximum: MAX_CHUNK_SIZE }),
  chunks: Type.Array(Sha256Hex, { minItems: 1, maxItems: MAX_CHUNKS }),
  rootHash: Sha256Hex,
  createdAt: Type.String({ maxLength: 40 }),
  media: Type.Optional(MediaInfo),
  /** present when the file is packaged for streaming (HLS/CMAF); bound into the root hash */
  stream: Type.Optional(StreamInfo),
});
export type Manifest = Static<typeof Manifest>;

/** What the catalog lists: a manifest without the chunk list. */
export const VideoSummary = Type.Object({
  videoId: VideoId,
  name: Type.String(),
  mime: Type.String(),
  size: Type.Integer(),
  chunkSize: Type.Integer(),
  chunkCount: Type.Integer(),
  rootHash: Sha256Hex,
  createdAt: Type.String(),
  media: Type.Optional(MediaInfo),
  /** the video can be played while it downloads (`GET /videos/:id/playlist.m3u8`, the watch page) */
  streamable: Type.Optional(Type.Boolean()),
});
export type VideoSummary = Static<typeof VideoSummary>;

/** Content-derived id: 24 hex digits of the root hash (96 bits: collisions are not a practical concern). */
export function videoIdFromRoot(rootHash: string): string {
  return `v${rootHash.slice(0, 24)}`;
}

export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Byte length of chunk `index`: all chunks are `chunkSize` except possibly the last. */
export function chunkLength(m: Pick<Manifest, 'size' | 'chunkSize'>, index: number): number {
  const start = index * m.chunkSize;
  return Math.max(0, Math.min(m.chunkSize, m.size - start));
}

export function summarize(m: Manifest): VideoSummary {
  const s: VideoSummary = {
    videoId: m.videoId,
    name: m.name,
    mime: m.mime,
    size: m.size,
    chunkSize: m.chunkSize,
    chunkCount: m.chunks.length,
    rootHash: m.rootHash,
    createdAt: m.createdAt,
  };
  if (m.media) s.media = m.media;
  if (m.stream) s.streamable = true;
  return s;
}

/**
 * The text whose SHA-256 is the root hash. A manifest without a stream hashes exactly as before streaming
 * existed, so old video ids stay valid; a stream appends its segment table. Exposed for hashers that are
 * asynchronous (WebCrypto in the browser).
 */
export function rootHashText(size: number, chunkSize: number, chunks: readonly string[], stream?: StreamInfo): string {
  const base = `switchyard-manifest-v${MANIFEST_VERSION}\n${size}\n${chunkSize}\n` + chunks.map((c) => `${c}\n`).join('');
  return stream ? base + streamRootText(stream) : base;
}

const encoder = new TextEncoder();

/**
 * The manifest operations that hash, bound to a hasher (lib/hash.ts binds node:crypto). Everything else about
 * manifests is plain data and lives above.
 */
export function manifestHashing(h: Pick<Hasher, 'sha256'>) {
  function computeRootHash(size: number, chunkSize: number, chunks: readonly string[], stream?: StreamInfo): string {
    return h.sha256(encoder.encode(rootHashText(size, chunkSize, chunks, stream)));
  }

  function buildManifest(args: {
    name: string;
    mime: string;
    size: number;
    chunkSize: number;
    chunks: string[];
    media?: MediaInfo;
    stream?: StreamInfo;
    createdAt?: Date;
  }): Manifest {
    const rootHash = computeRootHash(args.size, args.chunkSize, args.chunks, args.stream);
    const m: Manifest = {
      version: MANIFEST_VERSION,
      videoId: videoIdFromRoot(rootHash),
      name: args.name,
      mime: args.mime,
      size: args.size,
      chunkSize: args.chunkSize,
      chunks: args.chunks,
      rootHash,
      createdAt: (args.createdAt ?? new Date()).toISOString(),
    };
    if (args.media) m.media = args.media;
    if (args.stream) m.stream = args.stream;
    return m;
  }

  /**
   * Checks what a schema cannot: the chunk count matches size/chunkSize, and the root hash and id match the
   * chunk list. Returns a reason, or null when consistent.
   */
  function manifestInconsistency(m: Manifest): string | null {
    if (m.chunks.length !== chunkCount(m.size, m.chunkSize)) return 'chunk count does not match size / chunkSize';
    if (m.stream) {
      const why = streamInconsistency(m.stream, m.size);
      if (why) return `stream: ${why}`;
    }
    if (computeRootHash(m.size, m.chunkSize, m.chunks, m.stream) !== m.rootHash) {
      return 'root hash does not match chunk list';
    }
    if (m.videoId !== videoIdFromRoot(m.rootHash)) return 'video id does not match root hash';
    return null;
  }

  /**
   * The client's gate for every manifest it is handed (catalog, origin, a saved `.part/manifest.json`): a manifest
   * is the root of all later chunk checks, so one that does not hash to its own root, or names another video than
   * the one asked for, must stop the run before any chunk is fetched or trusted.
   */
  function checkManifest(m: Manifest, expectedVideoId?: string, what = 'manifest'): Manifest {
    const why = manifestInconsistency(m);
    if (why) throw new BadManifestError(`${what} of ${m.videoId} is inconsistent: ${why}`);
    if (expectedVideoId !== undefined && m.videoId !== expectedVideoId) {
      throw new BadManifestError(`${what} is for video ${m.videoId}, not the requested ${expectedVideoId}`);
    }
    return m;
  }

  /** True when `data` is exactly chunk `index` of `m` (length and SHA-256). */
  function verifyChunk(m: Pick<Manifest, 'size' | 'chunkSize' | 'chunks'>, index: number, data: Uint8Array): boolean {
    return index >= 0 && index < m.chunks.length && data.byteLength === chunkLength(m, index) &&
      h.sha256(data) === m.chunks[index];
  }

  return { sha256Hex: (data: Uint8Array) => h.sha256(data), computeRootHash, buildManifest, manifestInconsistency,
    checkManifest, verifyChunk };
}
