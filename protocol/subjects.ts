/**
 * Every NATS subject Switchyard uses, in one place. Subjects are built by functions so that a token can never
 * contain a dot or wildcard: a peer id or video id with `.`/`*`/`>` would let one client speak on another's
 * subject, so builders reject such tokens instead of escaping them.
 *
 * Layout (prefix `sy`):
 * - `sy.origin.<verb>.<peerId>` requests to the origin service (queue group `origin`) sent by peer <peerId>
 * - `sy.catalog.<verb>`         catalog requests, also served by the origin workers (`publish`: services only)
 * - `sy.peer.<peerId>.<event>`  pushes addressed to one peer; a peer may subscribe to `sy.peer.<self>.>` only
 * - `sy.ingest.job`             JetStream work queue of ingest jobs
 * - `sy.ingest.done.<jobId>`    ingest completion notices
 * - `sy.signal.<from>.<to>`     WebRTC signalling sent by peer <from>; the relay (queue group `signal`) checks it
 *                               and delivers it as `sy.peer.<to>.signal` with `from` taken from the subject.
 *                               NATS permissions per peer X: publish `sy.signal.X.*`, subscribe `sy.peer.X.>`,
 *                               so a peer can neither speak as another nor read another's messages.
 * - `sy.tracker.<videoId>.<verb>.<peerId>` swarm membership (queue group `tracker`) sent by peer <peerId>; the
 *                               video token lets operators shard trackers by video with subject mappings
 * - `sy.gateway.activity`       services only: sessions the gateways served chunks for (idle-slot reclaim)
 * - `sy.telemetry.<videoId>.<peerId>` periodic status of a client (dashboard, demo view, benchmarks)
 * - `sy.inspect.<peerId>`       a client's machine transitions, batched (protocol/inspect.ts; the gateway's inspector)
 * - `sy.live.<streamId>.<event>` a live stream: `segment` and `end` announcements (published only by the live
 *                               packager, an ingest service; any peer may listen), `window` requests (the current
 *                               sliding window, for a viewer joining)
 *
 * Every subject a peer publishes on carries the sender's id as a token, and each peer's NATS credential allows
 * only subjects with its own id (protocol/permissions.ts). Services therefore read the sender from the subject
 * (the parsers below), never from a message body.
 */

import { BadRequestError } from './errors.js';

/** Allowed shape of any id that becomes a subject token or a path segment. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidId(s: unknown): s is string {
  return typeof s === 'string' && ID_PATTERN.test(s);
}

function token(kind: string, value: string): string {
  if (!isValidId(value)) throw new TypeError(`invalid ${kind} for a subject token: ${JSON.stringify(value)}`);
  return value;
}

export const SUBJECT_PREFIX = 'sy' as const;

/** Queue groups: workers of one kind share the load and see each request once. */
export const QueueGroups = {
  origin: 'origin',
  ingest: 'ingest',
  signal: 'signal',
  tracker: 'tracker',
} as const;

export const OriginVerbs = {
  open: 'open',
  heartbeat: 'heartbeat',
  release: 'release',
  /** a short-lived urgent grant for chunks near a streaming client's playhead; holds no slot */
  urgent: 'urgent',
} as const;
export type OriginVerb = (typeof OriginVerbs)[keyof typeof OriginVerbs];

export const CatalogVerbs = {
  list: 'list',
  get: 'get',
  publish: 'publish',
} as const;
export type CatalogVerb = (typeof CatalogVerbs)[keyof typeof CatalogVerbs];

export const PeerEvents = {
  /** the origin hands a freed slot to a waiting client */
  slotOffered: 'slot-offered',
  /** the origin took a slot back (lease expired or revoked) */
  slotRevoked: 'slot-revoked',
  /** a signalling message relayed from another peer */
  signal: 'signal',
} as const;
export type PeerEvent = (typeof PeerEvents)[keyof typeof PeerEvents];

export const TrackerVerbs = {
  announce: 'announce',
  have: 'have',
  leave: 'leave',
  report: 'report',
} as const;
export type TrackerVerb = (typeof TrackerVerbs)[keyof typeof TrackerVerbs];

export const Subjects = {
  /** what peer `peerId` publishes to ask the origin */
  origin: (verb: OriginVerb, peerId: string) => `${SUBJECT_PREFIX}.origin.${verb}.${token('peer id', peerId)}`,
  /** what origin workers listen on for one verb */
  originVerbAll: (verb: OriginVerb) => `${SUBJECT_PREFIX}.origin.${verb}.*`,
  originAll: `${SUBJECT_PREFIX}.origin.>`,
  catalog: (verb: CatalogVerb) => `${SUBJECT_PREFIX}.catalog.${verb}`,
  catalogAll: `${SUBJECT_PREFIX}.catalog.>`,
  peer: (peerId: string, event: PeerEvent) => `${SUBJECT_PREFIX}.peer.${token('peer id', peerId)}.${event}`,
  peerAll: (peerId: string) => `${SUBJECT_PREFIX}.peer.${token('peer id', peerId)}.>`,
  ingestJob: `${SUBJECT_PREFIX}.ingest.job`,
  ingestDone: (jobId: string) => `${SUBJECT_PREFIX}.ingest.done.${token('job id', jobId)}`,
  /** what peer `from` publishes to reach peer `to` (through the relay) */
  signal: (from: string, to: string) => `${SUBJECT_PREFIX}.signal.${token('peer id', from)}.${token('peer id', to)}`,
  /** what the relay listens on */
  signalAll: `${SUBJECT_PREFIX}.signal.*.*`,
  tracker: (videoId: string, verb: TrackerVerb, peerId: string) =>
    `${SUBJECT_PREFIX}.tracker.${token('video id', videoId)}.${verb}.${token('peer id', peerId)}`,
  trackerAll: `${SUBJECT_PREFIX}.tracker.*.*.*`,
  /** services only: which sessions a gateway served chunks for lately */
  gatewayActivity: `${SUBJECT_PREFIX}.gateway.activity`,
  telemetry: (videoId: string, peerId: string) =>
    `${SUBJECT_PREFIX}.telemetry.${token('video id', videoId)}.${token('peer id', peerId)}`,
  telemetryAll: `${SUBJECT_PREFIX}.telemetry.*.*`,
  /** what peer `peerId` publishes its machines' transitions on (protocol/inspect.ts) */
  inspect: (peerId: string) => `${SUBJECT_PREFIX}.inspect.${token('peer id', peerId)}`,
  /** every client's transitions (the gateway's inspector) */
  inspectAll: `${SUBJECT_PREFIX}.inspect.*`,
  live: (streamId: string, event: LiveEvent) => `${SUBJECT_PREFIX}.live.${token('stream id', streamId)}.${event}`,
  /** one event of every live stream (what a permission or a dashboard names) */
  liveAll: (event: LiveEvent) => `${SUBJECT_PREFIX}.live.*.${event}`,
} as const;

export const LiveEvents = {
  /** a segment is complete, hashed and stored (services only) */
  segment: 'segment',
  /** the stream ended; the recording is an ordinary video now (services only) */
  end: 'end',
  /** a request for the current window (any peer) */
  window: 'window',
} as const;
export type LiveEvent = (typeof LiveEvents)[keyof typeof LiveEvents];

/** JetStream resources. Names are fixed so that every worker finds the same ones. */
export const Buckets = {
  /** admission leases (`slot.<i>`) and wait-list entries (`wait.<sessionId>`) */
  admission: 'sy_admission',
  /** manifests by video id */
  catalog: 'sy_catalog',
  /** swarm membership: `<videoId>.<peerId>` → announced state */
  swarm: 'sy_swarm',
  /** links the relay saw negotiated: `<videoId>.<peerA>.<peerB>` (ids sorted); evidence for tracker reports */
  links: 'sy_links',
  /** live streams: `<streamId>` → its window (protocol/live.ts), written by the live packager only */
  live: 'sy_live',
} as const;

export const Streams = {
  ingest: 'SY_INGEST',
} as const;

/** The tokens after `sy.<head>.`, one per name, each a valid id (verbs are checked by the callers). */
function tokensOf(subject: string, head: string, names: readonly string[]): string[] {
  const prefix = `${SUBJECT_PREFIX}.${head}.`;
  if (typeof subject !== 'string' || !subject.startsWith(prefix)) throw new BadRequestError(`not a ${head} subject`);
  const rest = subject.slice(prefix.length).split('.');
  if (rest.length !== names.length) throw new BadRequestError(`${head} subject must be ${prefix}<${names.join('>.<')}>`);
  rest.forEach((t, i) => {
    if (!isValidId(t)) throw new BadRequestError(`invalid ${names[i]} in subject`);
  });
  return rest;
}

/** `sy.origin.<verb>.<peerId>` → its verb and the sender (enforced by NATS permissions). */
export function parseOriginSubject(subject: string): { verb: OriginVerb; peerId: string } {
  const [verb, peerId] = tokensOf(subject, 'origin', ['verb', 'sender id']) as [string, string];
  if (!Object.values(OriginVerbs).includes(verb as OriginVerb)) throw new BadRequestError(`unknown origin verb ${verb}`);
  return { verb: verb as OriginVerb, peerId };
}

/** `sy.tracker.<videoId>.<verb>.<peerId>` → video, verb and the sender. */
export function parseTrackerSubject(subject: string): { videoId: string; verb: TrackerVerb; peerId: string } {
  const [videoId, verb, peerId] = tokensOf(subject, 'tracker', ['video id', 'verb', 'sender id']) as [string, string, string];
  if (!Object.values(TrackerVerbs).includes(verb as TrackerVerb)) throw new BadRequestError(`unknown tracker verb ${verb}`);
  return { videoId, verb: verb as TrackerVerb, peerId };
}

/** `sy.signal.<from>.<to>` → sender (enforced) and recipient; a peer cannot signal itself. */
export function parseSignalSubject(subject: string): { from: string; to: string } {
  const [from, to] = tokensOf(subject, 'signal', ['sender id', 'recipient id']) as [string, string];
  if (from === to) throw new BadRequestError('a peer cannot signal itself');
  return { from, to };
}

/** `sy.telemetry.<videoId>.<peerId>` → video and sender. */
export function parseTelemetrySubject(subject: string): { videoId: string; peerId: string } {
  const [videoId, peerId] = tokensOf(subject, 'telemetry', ['video id', 'sender id']) as [string, string];
  return { videoId, peerId };
}

/** `sy.live.<streamId>.<event>` → the stream and the event. */
export function parseLiveSubject(subject: string): { streamId: string; event: LiveEvent } {
  const [streamId, event] = tokensOf(subject, 'live', ['stream id', 'event']) as [string, string];
  if (!Object.values(LiveEvents).includes(event as LiveEvent)) throw new BadRequestError(`unknown live event ${event}`);
  return { streamId, event: event as LiveEvent };
}

/** `sy.inspect.<peerId>` → the sender (enforced by NATS permissions: a peer publishes only its own). */
export function parseInspectSubject(subject: string): { peerId: string } {
  const [peerId] = tokensOf(subject, 'inspect', ['sender id']) as [string];
  return { peerId };
}
