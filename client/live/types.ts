/**
 * The live viewer's shapes (client/live/viewer.ts is the engine): what it is told, what it is given, what it
 * reports. Portable, like the engine.
 */
import type { OriginClient } from '../../actors/origin/client.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { LiveEnd, LiveMode, LiveSegment, LiveWindow } from '../../protocol/mod.js';
import type { Swarm } from '../p2p/swarm.js';
import type { ChunkSource, SwarmContent } from '../p2p/types.js';
import type { LiveFeed } from './feed.js';
import type { LivePlayhead, PlayheadStats } from './playhead.js';
import type { LiveSession } from './session.js';

export type LiveSource = 'origin' | 'urgent' | 'peer';

export type LiveViewerEvent =
  | { type: 'segment.verified'; seq: number; source: LiveSource; peerId?: string; latencyMs: number; bytes: number }
  | { type: 'segment.corrupt'; seq: number; source: LiveSource; peerId?: string }
  | { type: 'ended'; end: LiveEnd };

export interface LiveViewerInit {
  streamId: string;
  peerId: string;
  gatewayUrl: string;
  mode: LiveMode;
  /** use the origin at all (slot and urgent share); false: peers only */
  origin?: boolean;
  /** segments in flight from one peer (default 2) */
  perPeer?: number;
}

export interface LiveViewerComponents {
  feed: LiveFeed;
  session: LiveSession;
  origin: Pick<OriginClient, 'urgent'>;
  /** makes the swarm for this stream's content, serving `source` */
  swarm(content: SwarmContent, source: ChunkSource): Swarm;
  sha256(data: Uint8Array): Promise<string>;
  fetch: typeof fetch;
  clock: Clock;
  logger: Logger;
  /** how the player is doing (default: a headless playhead, client/live/playhead.ts) */
  playhead?: LivePlayhead;
}

export interface LiveViewerStats {
  bySource: Record<LiveSource, number>;
  verified: number;
  corrupt: number;
  /** production → verified here, ms, one per segment */
  latenciesMs: number[];
  admitted: boolean;
  playhead: PlayheadStats;
  held: number;
}

export interface LiveViewer {
  readonly streamId: string;
  /** joins: the window, the session, the swarm; resolves with the window it joined */
  start(): Promise<LiveWindow>;
  stop(): Promise<void>;
  on(fn: (e: LiveViewerEvent) => void): () => void;
  init(): Uint8Array;
  window(): LiveWindow;
  info(seq: number): LiveSegment | undefined;
  /** a verified segment's bytes, while held */
  segment(seq: number): Uint8Array | undefined;
  /** held seqs, ascending */
  held(): number[];
  /** the end, once announced */
  ended(): LiveEnd | null;
  stats(): LiveViewerStats;
  readonly swarm: Swarm;
}

