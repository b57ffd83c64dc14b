/**
 * Which sessions are really using their slot: gateways publish, about once a second, the grant sessions they
 * served chunk bytes for (`sy.gateway.activity`, services only). Every origin worker listens (a plain
 * subscription, not the queue group: each worker sweeps and must know) and remembers when it last heard of each
 * session. The sweep reclaims a slot that shows no chunk traffic for `idleMs`, so a client that holds a slot and
 * never fetches (a bug, a stuck client, a stranger hoarding capacity) cannot keep others waiting.
 */
import { decode, GatewayActivity, Subjects } from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection, Subscription } from '../../lib/nats.js';

export interface ActivityLog {
  /**
   * ms clock time the session was last reported as served; a session not heard of counts as served when this
   * worker started listening, so a worker that just joined never reclaims a busy slot it has no news of
   */
  lastServed(sessionId: string): number | undefined;
  /** records activity (what a notice does; tests call it directly) */
  served(sessionId: string, at: number): void;
  start(): void;
  stop(): void;
}

/** Sessions remembered at most; beyond it the least recently served are forgotten (they then look idle). */
export const MAX_ACTIVE_SESSIONS = 100_000;

export function createActivityLog(components: { nc: NatsConnection; clock: Clock; logger: Logger }): ActivityLog {
  const seen = new Map<string, number>();
  let sub: Subscription | null = null;
  let listeningSince: number | undefined;
  const served = (sessionId: string, at: number) => {
    seen.delete(sessionId); // re-insert: the map stays least-recently-served first
    seen.set(sessionId, at);
    while (seen.size > MAX_ACTIVE_SESSIONS) {
      const oldest = seen.keys().next();
      if (oldest.done) break;
      seen.delete(oldest.value);
    }
  };
  return {
    lastServed: (sessionId) => seen.get(sessionId) ?? listeningSince,
    served,
    start() {
      if (sub) return;
      listeningSince = components.clock.now();
      sub = components.nc.subscribe(Subjects.gatewayActivity, {
        callback: (err, msg) => {
          if (err) return;
          try {
            const notice = decode(GatewayActivity, msg.data, { maxBytes: 1024 * 1024, what: 'gateway activity' });
            const now = components.clock.now();
            for (const s of notice.sessions) served(s, now);
          } catch (e) {
            components.logger.warn('bad gateway activity notice ignored', { err: e });
          }
        },
      });
    },
    stop() {
      sub?.unsubscribe();
      sub = null;
      seen.clear();
    },
  };
}
