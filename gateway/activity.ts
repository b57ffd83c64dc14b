/**
 * Gateway activity notices: about once a second a gateway publishes on `sy.gateway.activity` the grant sessions
 * it served chunk bytes for since its last notice (protocol/messages.ts `GatewayActivity`). Origin workers use
 * it to tell a slot that is being used from one that is merely held. Nothing is published when nothing was
 * served, so an idle gateway costs no traffic.
 *
 * Bounded: the pending set holds at most `maxSessions` ids (the message schema's limit); past it, ids are
 * dropped for this round. A dropped id is only a missed activity mark for one second, which the next chunk
 * of that session restores.
 */
import { encode, Subjects, type GatewayActivity } from '../protocol/mod.js';
import type { Logger } from '../lib/logger.js';
import type { NatsConnection } from '../lib/nats.js';

export interface ActivityPublisherInit {
  /** default 1000 ms */
  intervalMs?: number;
  /** most session ids in one notice (default 10,000, the schema's limit) */
  maxSessions?: number;
}

export interface ActivityPublisher {
  /** marks a session as served (called when chunk bytes left for it) */
  served(sessionId: string): void;
  start(): void;
  /** publishes what is pending, then stops */
  stop(): Promise<void>;
  /** publishes now; false when there was nothing to say */
  flush(): boolean;
}

export const ACTIVITY_DEFAULTS = { intervalMs: 1000, maxSessions: 10_000 } as const;

export function createActivityPublisher(
  init: ActivityPublisherInit,
  components: { nc: NatsConnection; logger: Logger },
): ActivityPublisher {
  const intervalMs = init.intervalMs ?? ACTIVITY_DEFAULTS.intervalMs;
  const maxSessions = Math.min(init.maxSessions ?? ACTIVITY_DEFAULTS.maxSessions, ACTIVITY_DEFAULTS.maxSessions);
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;

  const flush = (): boolean => {
    if (pending.size === 0) return false;
    const body: GatewayActivity = { sessions: [...pending] };
    pending = new Set();
    try {
      components.nc.publish(Subjects.gatewayActivity, encode(body));
    } catch (err) {
      // a closed or reconnecting connection: the origin will see the next notice
      components.logger.debug('activity notice not published', { err });
    }
    return true;
  };

  return {
    served(sessionId) {
      if (pending.size < maxSessions) pending.add(sessionId);
    },
    start() {
      if (timer) return;
      timer = setInterval(flush, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      flush();
      await components.nc.flush().catch(() => {});
    },
    flush,
  };
}
