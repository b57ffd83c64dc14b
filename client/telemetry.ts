/**
 * Publishes this client's status (protocol/telemetry.ts) a few times a second, and at once when its mode
 * changes, so dashboards see switches as they happen. Publishing is fire-and-forget: telemetry must never slow
 * or break a download. Portable: the browser peer (web/engine.ts) publishes the same status.
 */
import {
  encode, encodeBitfield, MAX_REPORTED_SETUPS, Subjects, type Manifest, type PeerMode, type PeerStatus,
} from '../protocol/mod.js';
import type { NatsConnection } from '../lib/natsrequest.js';
import { unrefTimer } from '../lib/timers.js';

export interface TelemetrySource {
  mode: PeerMode;
  state: string;
  have(): boolean[];
  bytesBySource: Record<string, number>;
  uploadedBytes(): number;
  position: number | null;
  links(): number;
  doneAt: number | null;
  /**
   * the swarm's link figures (`swarm.stats()`: set-up times of the links that opened, banned peers); optional,
   * and without it the status carries no `linkReport`
   */
  swarmStats?(): { setupMs: readonly number[]; banned: readonly unknown[] };
}

export interface Telemetry {
  update(p: Partial<Pick<TelemetrySource, 'mode' | 'state' | 'bytesBySource' | 'position' | 'doneAt'>>): void;
  stop(): void;
}

export function startTelemetry(
  nc: NatsConnection,
  init: { peerId: string; manifest: Manifest; intervalMs?: number },
  src: TelemetrySource,
): Telemetry {
  const startedAt = Date.now();
  const subject = Subjects.telemetry(init.manifest.videoId, init.peerId);
  const publish = () => {
    const have = src.have();
    const status: PeerStatus = {
      peerId: init.peerId, videoId: init.manifest.videoId, mode: src.mode, state: src.state.slice(0, 64),
      chunkCount: init.manifest.chunks.length, haveCount: have.filter(Boolean).length, bitfield: encodeBitfield(have),
      bytesBySource: src.bytesBySource, uploadedBytes: src.uploadedBytes(), position: src.position, links: src.links(),
      startedAt, doneAt: src.doneAt, at: Date.now(),
    };
    if (src.swarmStats) {
      const { setupMs, banned } = src.swarmStats();
      // the swarm keeps its newest samples in order; the newest few are enough for a receiver that publishes ~2/s
      const recentMs = setupMs.slice(-MAX_REPORTED_SETUPS).map((ms) => Math.max(0, ms));
      status.linkReport = { opened: setupMs.length, recentMs, banned: banned.length };
    }
    try {
      nc.publish(subject, encode(status));
    } catch {
      /* connection closing: telemetry is best effort */
    }
  };
  const timer = setInterval(publish, init.intervalMs ?? 500);
  unrefTimer(timer);
  publish();
  return {
    update(p) {
      const modeChanged = p.mode !== undefined && p.mode !== src.mode;
      Object.assign(src, p);
      if (modeChanged) publish();
    },
    stop() {
      clearInterval(timer);
      publish();
    },
  };
}
