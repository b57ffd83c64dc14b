/**
 * What each role may publish and subscribe on NATS: the single source for the permissions written into user JWTs
 * (infra/auth) and for docs/SECURITY.md. Pure data, so the gateway that mints peer credentials, the tests that
 * prove the server enforces them and the docs all read the same lists.
 *
 * A peer holds a credential for exactly one peer id. Every subject it may publish on carries that id as a token,
 * so the server itself refuses a peer speaking as another one, and services can take the sender from the subject.
 * Replies to its requests arrive on its own inbox prefix (`_INBOX_<peerId>`), so no peer can read another's
 * replies (grants, session ids) by subscribing to `_INBOX.>`.
 */
import { isValidId, LiveEvents, OriginVerbs, SUBJECT_PREFIX, Subjects, TrackerVerbs } from './subjects.js';

/** NATS publish/subscribe allow (and deny) lists, as they appear in a user JWT. */
export interface NatsPermissions {
  pub: { allow: string[]; deny?: string[] };
  sub: { allow: string[]; deny?: string[] };
}

/** The inbox prefix a peer's connection must use (`inboxPrefix` option); replies to it land under it. */
export function inboxPrefixFor(peerId: string): string {
  if (!isValidId(peerId)) throw new TypeError(`invalid peer id ${JSON.stringify(peerId)}`);
  return `_INBOX_${peerId}`;
}

/**
 * A peer's permissions: requests to the origin and tracker as itself, catalog reads, signalling from itself,
 * telemetry and machine transitions (inspect) as itself, live window requests; it hears only its own pushes, its own inbox and live announcements. Nothing else: no JetStream API, no KV
 * bucket, no ingest subject, no catalog publish, no other peer's subjects.
 */
export function peerPermissions(peerId: string): NatsPermissions {
  const inbox = inboxPrefixFor(peerId);
  const p = SUBJECT_PREFIX;
  return {
    pub: {
      allow: [
        ...Object.values(OriginVerbs).map((v) => `${p}.origin.${v}.${peerId}`),
        `${p}.catalog.list`,
        `${p}.catalog.get`,
        ...Object.values(TrackerVerbs).map((v) => `${p}.tracker.*.${v}.${peerId}`),
        `${p}.signal.${peerId}.*`,
        `${p}.telemetry.*.${peerId}`,
        Subjects.inspect(peerId),
        Subjects.liveAll(LiveEvents.window),
      ],
    },
    sub: {
      allow: [
        `${p}.peer.${peerId}.>`,
        `${inbox}.>`,
        // live announcements are public; only the live packager may publish them (servicePermissions)
        Subjects.liveAll(LiveEvents.segment),
        Subjects.liveAll(LiveEvents.end),
      ],
    },
  };
}

/** Limits in a peer's JWT: everything a peer publishes is a small control message (signal, tracker, request). */
export const PEER_LIMITS = { subs: 64, payload: 128 * 1024 } as const;

/** Roles that hold service credentials (one user each, so logs and connection lists name the role). */
export const ServiceRoles = {
  origin: 'origin',
  tracker: 'tracker',
  signal: 'signal',
  ingest: 'ingest',
  gateway: 'gateway',
  /** the operator's own tools: `switchyard ingest`, the stack's supervisor connection, benchmarks */
  admin: 'admin',
} as const;
export type ServiceRole = (typeof ServiceRoles)[keyof typeof ServiceRoles];

/**
 * Services share the application account, but only ingest (and the operator's tools) may put videos into the
 * catalog or queue ingest jobs: the catalog publish verb, the catalog's KV subjects and the ingest stream are
 * denied to every other role. (The origin writes the catalog bucket when it answers an ingest worker's publish;
 * the gateway queues uploads as ingest jobs.)
 */
export function servicePermissions(role: ServiceRole): NatsPermissions {
  const p = SUBJECT_PREFIX;
  const catalogPublish = `${p}.catalog.publish`;
  const catalogKv = `$KV.sy_catalog.>`;
  const ingestJob = `${p}.ingest.job`;
  // a live segment's hash is what every viewer checks relayed bytes against: only the packager announces one
  const live = [Subjects.liveAll(LiveEvents.segment), Subjects.liveAll(LiveEvents.end), '$KV.sy_live.>'];
  const deny: Record<ServiceRole, string[]> = {
    origin: [catalogPublish, ingestJob, ...live],
    tracker: [catalogPublish, catalogKv, ingestJob, ...live],
    signal: [catalogPublish, catalogKv, ingestJob, ...live],
    gateway: [catalogPublish, catalogKv, ...live],
    ingest: [],
    admin: [],
  };
  return { pub: { allow: ['>'], deny: deny[role] }, sub: { allow: ['>'] } };
}
