/**
 * Client telemetry: each client publishes its status a few times a second on `sy.telemetry.<video>.<peer>`.
 * The gateway's dashboard, the demo's terminal view and the benchmarks all read the same messages, so what a
 * person watches is what the benchmark measures.
 */
import { Type, type Static } from '@sinclair/typebox';
import { VideoId } from './manifest.js';
import { Bitfield64 } from './p2p.js';

const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
export const MAX_TELEMETRY_BYTES = 32 * 1024;

/** The download machine's phase, simplified for display. */
export const PeerModes = {
  opening: 'opening',
  server: 'server',
  p2p: 'p2p',
  resumeServer: 'resumeServer',
  assembling: 'assembling',
  complete: 'complete',
  failed: 'failed',
  cancelled: 'cancelled',
  /** download done (or not downloading), still serving the swarm */
  seeding: 'seeding',
} as const;
export type PeerMode = (typeof PeerModes)[keyof typeof PeerModes];

export const PeerStatus = Type.Object({
  peerId: Id,
  videoId: VideoId,
  mode: Type.Union(Object.values(PeerModes).map((m) => Type.Literal(m))),
  /** full machine state, e.g. `active.p2p` */
  state: Type.String({ maxLength: 64 }),
  chunkCount: Type.Integer({ minimum: 1, maximum: 65536 }),
  haveCount: Type.Integer({ minimum: 0 }),
  bitfield: Bitfield64,
  /** bytes received, by source: `origin` or `peer:<id>` */
  bytesBySource: Type.Record(Type.String({ maxLength: 80 }), Type.Number({ minimum: 0 })),
  uploadedBytes: Type.Number({ minimum: 0 }),
  /** wait-list position while denied */
  position: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  /** open links to other peers */
  links: Type.Integer({ minimum: 0 }),
  startedAt: Type.Number(),
  /** when the download completed (ms since epoch), null while running */
  doneAt: Type.Union([Type.Number(), Type.Null()]),
  at: Type.Number(),
}, { additionalProperties: false });
export type PeerStatus = Static<typeof PeerStatus>;
