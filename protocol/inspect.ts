/**
 * Live inspection: clients publish their state machines' transitions on `sy.inspect.<peerId>` (their own subject
 * only; protocol/permissions.ts), batched, for the gateway's inspector page. A record is a transition and the type
 * of the event that caused it, nothing more: never an event's payload, so no chunk bytes, grants, tokens or origin
 * session ids ever leave the client this way. The sender is the subject's peer id, never a body field.
 *
 * Every field is bounded, so a batch of `MAX_INSPECT_RECORDS` fits `MAX_INSPECT_BYTES` by construction (the
 * publisher truncates state paths and event types to these limits before sending).
 */
import { Type, type Static } from '@sinclair/typebox';
import { decode } from './codec.js';
import { VideoId } from './manifest.js';

/** The machines a client reports. */
export const InspectActors = {
  /** the download machine (machines/download) */
  download: 'download',
  /** one remote peer's link (machines/peerLink) */
  peerLink: 'peerLink',
} as const;
export type InspectActor = (typeof InspectActors)[keyof typeof InspectActors];

export const MAX_INSPECT_BYTES = 16 * 1024;
/** records in one batch */
export const MAX_INSPECT_RECORDS = 32;
/** a state as a dotted path (`active.p2p`); parallel regions are joined with `,` */
export const MAX_INSPECT_STATE_CHARS = 96;
export const MAX_INSPECT_EVENT_CHARS = 64;

const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });

/** One transition of one actor. */
export const InspectRecord = Type.Object({
  actor: Type.Union(Object.values(InspectActors).map((a) => Type.Literal(a))),
  /**
   * which actor of its kind: a download's run id (made by the client; not the origin's session id, which stays
   * private) or a link's remote peer id
   */
  actorId: Id,
  videoId: VideoId,
  /** the state entered, as a dotted path */
  state: Type.String({ minLength: 1, maxLength: MAX_INSPECT_STATE_CHARS }),
  /** the type of the event that caused the transition (`xstate.init` for the first state) */
  event: Type.String({ minLength: 1, maxLength: MAX_INSPECT_EVENT_CHARS }),
  /** when, in ms since the epoch, on the client's clock */
  t: Type.Number({ minimum: 0 }),
}, { additionalProperties: false });
export type InspectRecord = Static<typeof InspectRecord>;

/** What one message on `sy.inspect.<peerId>` carries. */
export const InspectBatch = Type.Object({
  records: Type.Array(InspectRecord, { minItems: 1, maxItems: MAX_INSPECT_RECORDS }),
  /** records this client dropped (queue full) since it started: the timeline has gaps when this grows */
  dropped: Type.Integer({ minimum: 0 }),
}, { additionalProperties: false });
export type InspectBatch = Static<typeof InspectBatch>;

/** Size, JSON, then schema; throws BadRequestError/TooLargeError. */
export function decodeInspectBatch(data: Uint8Array): InspectBatch {
  return decode(InspectBatch, data, { maxBytes: MAX_INSPECT_BYTES, what: 'inspect batch' });
}
