/**
 * How the machine carries out urgent fetching (streaming, no slot): spawning `fetchUrgent` children for what
 * playback.ts planned, pausing after a refusal, and stopping them. The decisions are playback.ts's; these only
 * turn them into XState's enqueued actions, so machine.ts stays a readable table of states.
 */
import type { DownloadContext } from './context.js';
import type { UrgentPlan } from './playback.js';
import { urgentChildId } from './schedule.js';
import type { FetchResult } from './types.js';

/** The enqueue operations urgent fetching needs (a subset of XState's enqueueActions helpers). */
export interface UrgentEnqueue {
  assign(a: Partial<DownloadContext>): void;
  stopChild(id: string): void;
  cancel(id: string): void;
  raise(e: { type: 'urgent.resume' }, o: { id: string; delay: 'urgentRetryDelay' }): void;
}

export const URGENT_RESUME_ID = 'urgent.resume';

/** Records and spawns the urgent children a plan chose. */
export function spawnUrgent(enqueue: {
  assign(a: Partial<DownloadContext>): void;
  spawnChild(src: 'fetchUrgent', o: UrgentPlan['spawn'][number]): void;
}, plan: UrgentPlan | null): void {
  if (!plan) return;
  enqueue.assign(plan.assign);
  for (const sp of plan.spawn) enqueue.spawnChild('fetchUrgent', sp);
}

/**
 * An urgent fetch failed (the origin refused a grant, the gateway's share was spent, or the network): no urgent
 * requests for `urgentRetryDelay`, so a refusing origin is not asked in a loop; peers take the window meanwhile.
 */
export function pauseUrgent(ctx: DownloadContext, r: FetchResult | null, enqueue: UrgentEnqueue): void {
  if (!r) return;
  enqueue.stopChild(urgentChildId(r.index));
  enqueue.assign({ urgentInFlight: ctx.urgentInFlight.filter((i) => i !== r.index), urgentPaused: true });
  if (!ctx.urgentPaused) enqueue.raise({ type: 'urgent.resume' }, { id: URGENT_RESUME_ID, delay: 'urgentRetryDelay' });
}

/** Stops every urgent child; `forGood` also keeps urgent fetching off (no resume). */
export function stopUrgent(ctx: DownloadContext, enqueue: UrgentEnqueue, forGood: boolean): void {
  for (const index of ctx.urgentInFlight) enqueue.stopChild(urgentChildId(index));
  if (forGood) enqueue.cancel(URGENT_RESUME_ID);
  enqueue.assign(forGood ? { urgentInFlight: [], urgentPaused: true } : { urgentInFlight: [] });
}
