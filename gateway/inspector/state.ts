/**
 * What `GET /inspector/state` answers (and the inspector page draws): per client heard on `sy.inspect.<peerId>`,
 * the current state of each of its machines (downloads and peer links) and its recent transitions. One TypeBox
 * schema, so the route's response is serialised from exactly what is documented in OpenAPI.
 */
import { Type, type Static } from '@sinclair/typebox';
import { InspectActors, MAX_INSPECT_EVENT_CHARS, MAX_INSPECT_STATE_CHARS } from '../../protocol/mod.js';

const Actor = Type.Union(Object.values(InspectActors).map((a) => Type.Literal(a)));
const State = Type.String({ maxLength: MAX_INSPECT_STATE_CHARS });
const Event = Type.String({ maxLength: MAX_INSPECT_EVENT_CHARS });

/** One machine of one client, as of its last transition. */
export const InspectedActor = Type.Object({
  actor: Actor,
  /** a download's run id, or a link's remote peer id */
  actorId: Type.String(),
  videoId: Type.String(),
  /** the current state, as a dotted path (`active.p2p`) */
  state: State,
  /** the event that led there */
  event: Event,
  /** when it was entered, on the client's clock (ms since the epoch) */
  t: Type.Number(),
}, { description: 'one machine of one client' });
export type InspectedActor = Static<typeof InspectedActor>;

/** One transition in a client's timeline. */
export const InspectedTransition = Type.Object({
  actor: Actor,
  actorId: Type.String(),
  videoId: Type.String(),
  /** the state left (null for the machine's first state, or when the previous record was never received) */
  from: Type.Union([State, Type.Null()]),
  to: State,
  event: Event,
  t: Type.Number(),
});
export type InspectedTransition = Static<typeof InspectedTransition>;

export const InspectedClient = Type.Object({
  /** from the subject the records came on, never from a body */
  peerId: Type.String(),
  /** first and last message heard from it (the gateway's clock) */
  firstSeenAt: Type.Number(),
  lastSeenAt: Type.Number(),
  /** records the client says it dropped (its queue was full) */
  dropped: Type.Integer({ minimum: 0 }),
  downloads: Type.Array(InspectedActor),
  links: Type.Array(InspectedActor),
  /** its transitions, oldest first, the last `maxTimeline` only */
  timeline: Type.Array(InspectedTransition),
});
export type InspectedClient = Static<typeof InspectedClient>;

export const InspectorState = Type.Object({
  at: Type.Number({ description: 'when this state was built (ms since the epoch)' }),
  /** clients heard within `forgetMs`, first heard first */
  clients: Type.Array(InspectedClient),
  limits: Type.Object({
    maxClients: Type.Integer(),
    maxActors: Type.Integer(),
    maxTimeline: Type.Integer(),
    forgetMs: Type.Integer(),
  }),
}, { description: 'live state machines of the clients' });
export type InspectorState = Static<typeof InspectorState>;
