/**
 * Schemas of every NATS message, as TypeBox schemas (plain JSON Schema, so the gateway's fastify routes reuse
 * them) with their static types. Each message has a byte limit enforced before JSON parsing.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Manifest, VideoId, VideoSummary } from './manifest.js';

const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
export const PeerId = Id;
export const SessionId = Id;

/** Default limit for small control messages. */
export const MAX_CONTROL_BYTES = 16 * 1024;
/** Limit for messages that carry a whole manifest. */
export const MAX_MANIFEST_MESSAGE_BYTES = 6 * 1024 * 1024;

/**
 * How the origin spends its capacity. `server-first` (the seeds' rule): admitted clients fetch everything from
 * the origin. `swarm-aware`: admitted clients also use peers, and the origin prefers chunks the swarm lacks and
 * declines to send a chunk again while peers hold it and have spare upload.
 */
export const OriginPolicies = {
  serverFirst: 'server-first',
  swarmAware: 'swarm-aware',
} as const;
export type OriginPolicy = (typeof OriginPolicies)[keyof typeof OriginPolicies];
export const OriginPolicySchema = Type.Union([Type.Literal('server-first'), Type.Literal('swarm-aware')]);

/** Bodies of peer requests carry no peer id: the sender is the subject's last token (protocol/subjects.ts). */
export const OpenRequest = Type.Object({ videoId: VideoId }, { additionalProperties: false });
export type OpenRequest = Static<typeof OpenRequest>;

export const LeaseInfo = Type.Object({
  slot: Type.Integer({ minimum: 0 }),
  expiresAt: Type.Number(),
  ttlMs: Type.Integer({ minimum: 1 }),
  /**
   * swarm-aware, while others wait for a slot: the origin bytes this holder's turn covers (the video's size over
   * the sessions sharing it); past them the holder yields the slot (release with `park`) and carries on with
   * peers. Absent or 0: no turn, hold the slot while it is needed.
   */
  turnBytes: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type LeaseInfo = Static<typeof LeaseInfo>;

/**
 * Open replies name the video and its root hash instead of carrying the manifest again: a client fetches the
 * manifest once from the catalog (and keeps it by root hash), so a crowd re-opening sessions costs the origin a
 * few hundred bytes each, not a manifest each. The root tells the client the manifest it holds is the one the
 * origin serves.
 */
const RootHash = Type.String({ pattern: '^[0-9a-f]{64}$' });
export const OpenGranted = Type.Object({
  status: Type.Literal('granted'),
  sessionId: SessionId,
  videoId: VideoId,
  rootHash: RootHash,
  grant: Type.String({ maxLength: 1024 }),
  lease: LeaseInfo,
  policy: Type.Optional(OriginPolicySchema),
});
export const OpenDenied = Type.Object({
  status: Type.Literal('denied'),
  sessionId: SessionId,
  videoId: VideoId,
  rootHash: RootHash,
  reason: Type.Literal('full'),
  /** 1 = next in line */
  position: Type.Integer({ minimum: 1 }),
  ttlMs: Type.Integer({ minimum: 1 }),
  policy: Type.Optional(OriginPolicySchema),
});
export const OpenReply = Type.Union([OpenGranted, OpenDenied]);
export type OpenGranted = Static<typeof OpenGranted>;
export type OpenDenied = Static<typeof OpenDenied>;
export type OpenReply = Static<typeof OpenReply>;

export const SessionRequest = Type.Object({ sessionId: SessionId }, { additionalProperties: false });
export type SessionRequest = Static<typeof SessionRequest>;
/** `sy.origin.heartbeat.<peer>` */
export const HeartbeatRequest = Type.Object({
  sessionId: SessionId,
  /** a parked session (its turn is over) lacks chunks no peer of it holds: it wants a slot again */
  need: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
export type HeartbeatRequest = Static<typeof HeartbeatRequest>;
/** `sy.origin.release.<peer>` */
export const ReleaseRequest = Type.Object({
  sessionId: SessionId,
  /**
   * the holder's turn is over: free the slot but keep the session, parked on the wait list, where it is offered
   * a slot again only once it says it needs one (heartbeat `need`) and nobody who had no turn yet waits
   */
  park: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
export type ReleaseRequest = Static<typeof ReleaseRequest>;

export const HeartbeatGranted = Type.Object({
  status: Type.Literal('granted'),
  grant: Type.String({ maxLength: 1024 }),
  lease: LeaseInfo,
});
export const HeartbeatWaiting = Type.Object({
  status: Type.Literal('waiting'),
  position: Type.Integer({ minimum: 1 }),
  /** parked after a turn: no slot is offered until the session says it needs one */
  parked: Type.Optional(Type.Boolean()),
});
export const HeartbeatReply = Type.Union([HeartbeatGranted, HeartbeatWaiting]);
export type HeartbeatReply = Static<typeof HeartbeatReply>;

/** Most chunks one urgent grant may cover (the origin's own limit, `urgentMaxChunks`, is usually lower). */
export const MAX_URGENT_CHUNKS = 16;
/**
 * `sy.origin.urgent.<peer>`: chunks near a streaming client's playhead, asked of the origin while it holds no
 * slot (or waits for one). The session must be the sender's, waiting or admitted; the reply is an urgent grant
 * (protocol/grant.ts, kind `u`) for exactly these chunks, served from the gateway's reserved urgent share.
 */
export const UrgentRequest = Type.Object({
  sessionId: SessionId,
  videoId: VideoId,
  chunks: Type.Array(Type.Integer({ minimum: 0, maximum: 1_000_000_000 }), { minItems: 1, maxItems: MAX_URGENT_CHUNKS }),
}, { additionalProperties: false });
export type UrgentRequest = Static<typeof UrgentRequest>;
export const UrgentReply = Type.Object({
  grant: Type.String({ maxLength: 1024 }),
  chunks: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: MAX_URGENT_CHUNKS }),
  /** the grant's byte budget: the chunks' total length */
  bytes: Type.Integer({ minimum: 0 }),
  expiresAt: Type.Number(),
});
export type UrgentReply = Static<typeof UrgentReply>;

export const ReleaseReply = Type.Object({ released: Type.Boolean() });
export type ReleaseReply = Static<typeof ReleaseReply>;

/** Pushed on `sy.peer.<peerId>.slot-offered` when a freed slot is handed to a waiting client. */
export const SlotOffer = Type.Object({
  sessionId: SessionId,
  videoId: VideoId,
  grant: Type.String({ maxLength: 1024 }),
  lease: LeaseInfo,
});
export type SlotOffer = Static<typeof SlotOffer>;

/** Pushed on `sy.peer.<peerId>.slot-revoked`. */
export const SlotRevoked = Type.Object({ sessionId: SessionId, reason: Type.String({ maxLength: 200 }) });
export type SlotRevoked = Static<typeof SlotRevoked>;

/** Largest `catalog.list` page; a page of summaries stays far below the manifest message limit. */
export const CATALOG_PAGE_MAX = 500;
export const CATALOG_PAGE_DEFAULT = 100;
/** One page of the catalog, oldest first; `next` is the offset of the following page, absent on the last one. */
export const CatalogListRequest = Type.Object({
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CATALOG_PAGE_MAX })),
}, { additionalProperties: false });
export type CatalogListRequest = Static<typeof CatalogListRequest>;
export const CatalogListReply = Type.Object({
  videos: Type.Array(VideoSummary, { maxItems: CATALOG_PAGE_MAX }),
  next: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type CatalogListReply = Static<typeof CatalogListReply>;

export const CatalogGetRequest = Type.Object({ videoId: VideoId }, { additionalProperties: false });
export const CatalogGetReply = Type.Object({ manifest: Manifest });
export type CatalogGetReply = Static<typeof CatalogGetReply>;

export const CatalogPublishRequest = Type.Object({ manifest: Manifest }, { additionalProperties: false });
export const CatalogPublishReply = Type.Object({ videoId: VideoId, created: Type.Boolean() });
export type CatalogPublishReply = Static<typeof CatalogPublishReply>;

export const IngestJob = Type.Object({
  jobId: Id,
  /** path of the staged upload, readable by ingest workers */
  path: Type.String({ minLength: 1, maxLength: 4096 }),
  name: Type.String({ minLength: 1, maxLength: 255 }),
  chunkSize: Type.Optional(Type.Integer()),
  /** package a video for streaming (default true) */
  stream: Type.Optional(Type.Boolean()),
  /** remove the staged file when done */
  removeAfter: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
export type IngestJob = Static<typeof IngestJob>;

export const IngestDone = Type.Union([
  Type.Object({ jobId: Id, ok: Type.Literal(true), manifest: Manifest, warnings: Type.Array(Type.String()) }),
  Type.Object({ jobId: Id, ok: Type.Literal(false), error: Type.Object({ code: Type.String(), message: Type.String() }) }),
]);
export type IngestDone = Static<typeof IngestDone>;

/**
 * Published by gateways on `sy.gateway.activity` (services only), about once a second: the sessions they served
 * chunk bytes for since the last notice. Origin workers reclaim a held slot that shows no chunk traffic.
 */
export const GatewayActivity = Type.Object({
  sessions: Type.Array(SessionId, { maxItems: 10_000 }),
}, { additionalProperties: false });
export type GatewayActivity = Static<typeof GatewayActivity>;

export const ErrorReply = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});
