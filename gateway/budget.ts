/**
 * Per-session byte budget at the gateway. A grant is bound to one peer's session for one video; the budget
 * keeps a leaked or shared grant from turning the origin into an unlimited file server: one session may take
 * about one copy of the file plus retries (`size × factor + 4 chunks`), then chunk requests answer 429
 * `quota_exceeded` until the client opens a new session (which the admission's slot limit governs).
 *
 * Bounded: at most `maxSessions` entries, least recently charged dropped first, and an entry untouched for
 * `idleMs` is forgotten. A forgotten session starts a fresh budget, so the bound costs precision, never memory;
 * with the defaults (idle 10 min, past any grant's lifetime) a live session is forgotten only under a flood of
 * more than `maxSessions` concurrent sessions on one gateway.
 */
import { QuotaExceededError } from '../protocol/mod.js';

export interface SessionBudgetInit {
  /** budget = manifest size × factor + `extraChunks` chunks (default 1.25) */
  factor?: number;
  /** default 4 */
  extraChunks?: number;
  /** default 20,000 */
  maxSessions?: number;
  /** default 10 min */
  idleMs?: number;
  now?: () => number;
}

export interface SessionBudget {
  /**
   * Charges `bytes` to `sessionId` for a video of `size` bytes in chunks of `chunkSize`; throws
   * QuotaExceededError (and charges nothing) when that would exceed the session's budget.
   */
  charge(sessionId: string, bytes: number, video: { size: number; chunkSize: number }): void;
  /** gives back bytes charged for a response that never left (client gone while queued) */
  refund(sessionId: string, bytes: number): void;
  used(sessionId: string): number;
  readonly size: number;
}

export const SESSION_BUDGET_DEFAULTS = { factor: 1.25, extraChunks: 4, maxSessions: 20_000, idleMs: 10 * 60_000 } as const;

interface Entry {
  used: number;
  at: number;
}

export function createSessionBudget(init: SessionBudgetInit = {}): SessionBudget {
  const factor = init.factor ?? SESSION_BUDGET_DEFAULTS.factor;
  if (!(factor >= 1) || !Number.isFinite(factor)) throw new TypeError('sessionBudgetFactor must be a finite number ≥ 1');
  const extraChunks = init.extraChunks ?? SESSION_BUDGET_DEFAULTS.extraChunks;
  const maxSessions = init.maxSessions ?? SESSION_BUDGET_DEFAULTS.maxSessions;
  const idleMs = init.idleMs ?? SESSION_BUDGET_DEFAULTS.idleMs;
  const now = init.now ?? Date.now;
  // insertion order = last charge order (re-inserted on every charge), so expiry and eviction look at the front
  const entries = new Map<string, Entry>();

  const expire = (t: number) => {
    for (const [k, e] of entries) {
      if (t - e.at <= idleMs && entries.size <= maxSessions) break;
      entries.delete(k);
    }
  };

  return {
    charge(sessionId, bytes, video) {
      const t = now();
      expire(t);
      const limit = Math.ceil(video.size * factor) + extraChunks * video.chunkSize;
      const e = entries.get(sessionId) ?? { used: 0, at: t };
      if (e.used + bytes > limit) {
        throw new QuotaExceededError(`this session has used its byte budget (${limit} bytes); open a new session or fetch from peers`);
      }
      e.used += bytes;
      e.at = t;
      entries.delete(sessionId);
      entries.set(sessionId, e);
      expire(t);
    },
    refund(sessionId, bytes) {
      const e = entries.get(sessionId);
      if (e) e.used = Math.max(0, e.used - bytes);
    },
    used: (sessionId) => entries.get(sessionId)?.used ?? 0,
    get size() {
      return entries.size;
    },
  };
}
