/**
 * Where live windows live: one KV entry per stream in `sy_live`, written by the stream's packager on every
 * segment (only the ingest role and operator tools may write it, protocol/permissions.ts) and read through a
 * watch-fed mirror by the services that answer viewers: origin workers (window requests, opens and urgent grants
 * for live streams) and gateways (the segment route).
 */
import type { KV } from '@nats-io/kv';
import {
  encode, LiveEvents, LiveWindow, LiveWindowRequest, MAX_MANIFEST_MESSAGE_BYTES, parseLiveSubject,
  QueueGroups, Subjects, UnknownVideoError,
} from '../../protocol/mod.js';
import {
  BucketSpecs, createKvMirror, decodeEntry, kvOptionsOf, openBucket, schemaCodec, type BucketOverrides,
} from '../../lib/kv/mod.js';
import type { Logger } from '../../lib/logger.js';
import { serve, type Inflight, type NatsConnection, type Subscription } from '../../lib/nats.js';

/** @nats-io/kv options of `sy_live` (the spec is lib/kv/buckets.ts) */
export const LIVE_BUCKET_OPTIONS = kvOptionsOf(BucketSpecs.live);

export function openLiveBucket(nc: NatsConnection, overrides?: BucketOverrides): Promise<KV> {
  return openBucket(nc, BucketSpecs.live, overrides);
}

/** `sy_live`: a stream's window under its stream id, up to the manifest message limit. */
const liveCodec = schemaCodec(BucketSpecs.live.name, LiveWindow, {
  maxBytes: MAX_MANIFEST_MESSAGE_BYTES, keyOf: (w) => w.streamId,
});

/** A read-only view of every live stream's window. */
export interface LiveDirectory {
  /** the stream's window (mirror first, then a direct read); UnknownVideoError when there is no such stream */
  get(streamId: string): Promise<LiveWindow>;
  /** the stream's window if the mirror has it (no I/O) */
  peek(streamId: string): LiveWindow | undefined;
  /** every stream the mirror knows */
  all(): LiveWindow[];
  stop(): Promise<void>;
}

export async function createLiveDirectory(
  c: { nc: NatsConnection; logger: Logger; bucket?: BucketOverrides },
): Promise<LiveDirectory> {
  const kv = await openLiveBucket(c.nc, c.bucket);
  const mirror = createKvMirror({ kv, codec: liveCodec }, { logger: c.logger });
  await mirror.start();
  return {
    peek: (id) => mirror.entries.get(id)?.value,
    all: () => [...mirror.entries.values()].map((e) => e.value),
    async get(streamId) {
      const known = mirror.entries.get(streamId)?.value;
      if (known) return known;
      const e = await kv.get(streamId).catch((err: unknown) => {
        // e.g. an id that is no valid key: no such stream, as far as the viewer can tell
        c.logger.debug('live window read failed', { streamId, err });
        return null;
      });
      if (e?.operation !== 'PUT' || e.length === 0) throw new UnknownVideoError(streamId);
      const w = decodeEntry(liveCodec, streamId, e.value);
      if (!w) throw new UnknownVideoError(streamId);
      mirror.note(streamId, e.revision, w);
      return w;
    },
    stop: () => mirror.stop(),
  };
}

/**
 * Answers `sy.live.<id>.window` in the origin's queue group: a joining viewer's first question. The stream is the
 * subject's token; the reply is the whole window (init bytes included), up to the manifest message limit.
 */
export function serveLiveWindows(c: { nc: NatsConnection; directory: LiveDirectory; logger: Logger; inflight?: Inflight }): Subscription {
  return serve(c.nc, {
    subject: Subjects.liveAll(LiveEvents.window), queue: QueueGroups.origin, schema: LiveWindowRequest, logger: c.logger,
    ...(c.inflight ? { inflight: c.inflight } : {}),
    handler: async (_req, msg) => ({ window: await c.directory.get(parseLiveSubject(msg.subject).streamId) }),
  });
}

/** Writes a window (the packager's side). */
export async function putWindow(kv: KV, w: LiveWindow): Promise<void> {
  await kv.put(w.streamId, encode(w));
}
