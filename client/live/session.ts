/**
 * A live viewer's origin session: opened on the stream id like a download's, kept by heartbeats (every ttl/3),
 * told of a freed slot by push. While admitted it holds a slot grant (the edge comes from the origin); while
 * waiting it can still ask for urgent grants. The viewer asks `grant()` before each origin fetch.
 */
import { beatTimeoutMs, nextBeatMs, type OriginClient } from '../../actors/origin/client.js';
import type { Logger } from '../../lib/logger.js';

export interface LiveSession {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** the slot grant while admitted, else null */
  grant(): string | null;
  /** the session id (urgent grants need it); null before the open answered */
  sessionId(): string | null;
  /** the gateway said the slot is gone: stop using the grant until a heartbeat or push says otherwise */
  lost(): void;
  /** called whenever admission changes */
  onChange(fn: (admitted: boolean) => void): void;
}

export function createLiveSession(init: { streamId: string; peerId: string },
  c: { origin: Pick<OriginClient, 'open' | 'heartbeat' | 'release' | 'onPush'>; logger: Logger }): LiveSession {
  let session: string | null = null;
  let grant: string | null = null;
  let ttlMs = 10_000;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let unpush: (() => void) | null = null;
  const listeners: Array<(admitted: boolean) => void> = [];
  const set = (g: string | null) => {
    const was = grant !== null;
    grant = g;
    if (was !== (g !== null)) for (const l of listeners) l(g !== null);
  };
  const open = async () => {
    const r = await c.origin.open(init.streamId, init.peerId);
    session = r.sessionId;
    if (r.status === 'granted') {
      ttlMs = r.lease.ttlMs;
      set(r.grant);
    } else {
      ttlMs = r.ttlMs;
      set(null);
    }
  };
  const beat = async () => {
    timer = null;
    let failure: unknown;
    if (stopped) return;
    try {
      if (!session) await open();
      else {
        const r = await c.origin.heartbeat(session, init.peerId, { timeoutMs: beatTimeoutMs(ttlMs / 3) });
        set(r.status === 'granted' ? r.grant : null);
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      c.logger.debug('live session heartbeat failed', { code, err: (err as Error).message });
      if (code === 'unknown_session') {
        session = null;
        set(null);
      }
      failure = err; // a timed-out beat is sent again at once, so one lost beat keeps the lease
    }
    if (!stopped) timer = setTimeout(() => void beat(), nextBeatMs(Math.max(200, ttlMs / 3), failure));
  };
  return {
    async start() {
      unpush = c.origin.onPush(init.peerId, {
        slotOffered: (o) => {
          if (o.sessionId === session) set(o.grant);
        },
        slotRevoked: (r) => {
          if (r.sessionId === session) set(null);
        },
      }, c.logger);
      await open().catch((err) => c.logger.warn('live session open failed', { err: (err as Error).message }));
      if (!stopped) timer = setTimeout(() => void beat(), Math.max(200, ttlMs / 3));
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      unpush?.();
      if (session) await c.origin.release(session, init.peerId).catch(() => {});
      set(null);
    },
    grant: () => grant,
    sessionId: () => session,
    lost: () => set(null),
    onChange: (fn) => void listeners.push(fn),
  };
}
