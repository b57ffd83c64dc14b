/**
 * Route schemas shared by the route plugins. Bodies reuse protocol's TypeBox schemas, so the HTTP API and the
 * NATS API describe a manifest with the very same JSON Schema, and OpenAPI is generated from what is enforced.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { ErrorReply, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, VideoId } from '../protocol/mod.js';

export const Tags = {
  catalog: 'catalog',
  chunks: 'chunks',
  ingest: 'ingest',
  ops: 'ops',
  auth: 'auth',
  watch: 'watch',
} as const;

export const VideoParams = Type.Object({ id: VideoId });

export const ChunkParams = Type.Object({
  id: VideoId,
  // A string on purpose: a non-integer index must answer `bad_index`, not a generic validation error.
  index: Type.String({ maxLength: 32, description: 'chunk index, 0 … chunkCount-1' }),
});

export const ChunkQuery = Type.Object({
  grant: Type.Optional(Type.String({ maxLength: 4096, description: 'grant token, when no Authorization header can be set' })),
});

export const ChunkHeaders = Type.Object({
  range: Type.Optional(Type.String({ description: 'one byte range: bytes=a-b, bytes=a- or bytes=-n' })),
  'if-range': Type.Optional(Type.String({ description: 'ETag the Range applies to' })),
});

export const UploadQuery = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255, description: 'display name of the video' }),
  chunkSize: Type.Optional(Type.Integer({ minimum: MIN_CHUNK_SIZE, maximum: MAX_CHUNK_SIZE, description: 'bytes per chunk' })),
  stream: Type.Optional(Type.Boolean({ description: 'package a video as HLS/CMAF to play while it downloads (default true)' })),
});

export const UploadHeaders = Type.Object({
  'x-admin-token': Type.Optional(Type.String({ maxLength: 1024, description: 'admin token (alternative to Bearer)' })),
});

export const Health = Type.Object({ status: Type.Literal('ok') });

const ERROR_TEXT: Record<number, string> = {
  400: 'malformed request (code bad_request or bad_index)',
  401: 'missing or invalid credential (grant_missing, grant_invalid, unauthorized)',
  403: 'credential not good for this (grant_expired, grant_wrong_video, grant_wrong_kind, lease_lost, or uploads disabled)',
  404: 'no such video or chunk (unknown_video, bad_index)',
  409: 'not now: the swarm-aware origin will not send this chunk again while peers hold it (chunk_in_swarm; header x-origin-unsent lists a few chunks sent to nobody yet, to ask for instead), or the resource is locked (locked)',
  413: 'upload larger than the gateway accepts (too_large)',
  415: 'upload is not application/octet-stream (bad_request)',
  416: 'malformed, multiple or unsatisfiable range (bad_range); Content-Range says the chunk length',
  422: 'upload could not be ingested (ingest_failed)',
  429: 'too many requests (rate_limited), the session\'s byte budget is used up (quota_exceeded), or the urgent share is spent (urgent_share_spent)',
  503: 'a backend is unavailable, or the chunk is missing from the store (unavailable, chunk_missing)',
  504: 'a backend timed out (timeout)',
};

/** Error response schemas for the listed statuses, plus catch-alls so every error is serialised the same way. */
export function errorResponses(...statuses: number[]): Record<string, TSchema> {
  const out: Record<string, TSchema> = {};
  for (const s of statuses) out[String(s)] = Type.Object(ErrorReply.properties, { description: ERROR_TEXT[s] ?? 'error' });
  out['5xx'] = Type.Object(ErrorReply.properties, { description: 'server-side failure (internal, unavailable, timeout)' });
  return out;
}

/**
 * Marks a route whose body is a raw byte stream. It cannot be a `body` schema: fastify would validate the
 * stream object against it. The OpenAPI transform (openapi.ts) turns this key into the documented requestBody
 * and removes it, so it never reaches the document itself.
 */
export const RAW_BODY = 'x-raw-body';

export function rawBody(description: string): Record<string, string> {
  return { [RAW_BODY]: description };
}

/** A raw-bytes response, documented as such in OpenAPI. */
export function binary(description: string) {
  return { description, content: { 'application/octet-stream': { schema: BinarySchema } } };
}

const BinarySchema = { type: 'string', format: 'binary' } as const;
