/**
 * Transient versus persistent failures of the origin side, as pure rules the machine's actions carry out.
 *
 * - An outage (NATS or the gateway down: heartbeats time out, chunk requests get no answer or a 503) is waited
 *   out: it never counts against a chunk's attempts. Only a long silence fails the download: the machine arms
 *   one delayed `origin.outageExpired` when the origin stops answering, disarms it when it answers again, and
 *   re-arms it whenever peers bring a chunk (a download that progresses is not stuck).
 * - A gateway that refuses grants the origin keeps issuing (different grant secrets, clock skew) is not an
 *   outage and not a lost lease: retrying cannot help, and the slot would stay busy for nothing. After a
 *   bounded number of such refusals the slot is given back; the download continues with peers if they have
 *   what it lacks, else fails naming the cause.
 */
import type { DownloadContext } from './context.js';
import { outageRetryDelayMs, type DownloadError } from './schedule.js';
import type { FetchChunkFailure } from './types.js';

export const OUTAGE_ID = 'outage';
/** Default for the `outageTimeout` delay: how long the origin may stay silent with no peer progress. */
export const OUTAGE_TIMEOUT_MS = 60_000;

/** The enqueue operations the outage timer needs (a subset of XState's enqueueActions helpers). */
export interface OutageEnqueue {
  raise(e: { type: 'origin.outageExpired' }, o: { id: string; delay: 'outageTimeout' }): void;
  cancel(id: string): void;
  assign(a: Partial<DownloadContext>): void;
}

/** The origin did not answer: arm the timer unless it is armed already (the silence started earlier). */
export function originSilent(ctx: DownloadContext, enqueue: OutageEnqueue): void {
  if (ctx.unreachable) return;
  enqueue.raise({ type: 'origin.outageExpired' }, { id: OUTAGE_ID, delay: 'outageTimeout' });
  enqueue.assign({ unreachable: true });
}

/**
 * The origin answered. A heartbeat answer does not end an outage of the chunk path (the gateway may still be
 * unable to check leases while the origin answers over NATS): only a chunk, or an open, clears fetch strikes.
 */
export function originAnswered(ctx: DownloadContext, enqueue: OutageEnqueue, via: 'heartbeat' | 'chunk' | 'open'): void {
  if (via === 'heartbeat' && ctx.outageStrikes > 0) return;
  if (ctx.unreachable) enqueue.cancel(OUTAGE_ID);
  enqueue.assign({ unreachable: false, ...(via === 'heartbeat' ? {} : { outageStrikes: 0 }) });
}

/** Peers brought a chunk: the silence of the origin is not holding the download up, so the clock restarts. */
export function peersProgressed(ctx: DownloadContext, enqueue: OutageEnqueue): void {
  if (!ctx.unreachable) return;
  enqueue.cancel(OUTAGE_ID);
  enqueue.raise({ type: 'origin.outageExpired' }, { id: OUTAGE_ID, delay: 'outageTimeout' });
}

/** Wait before asking the origin again for a chunk that failed as `unavailable`. */
export const outageDelay = (ctx: DownloadContext): number => outageRetryDelayMs(Math.max(1, ctx.outageStrikes));

/** A 401/403 on a chunk requested under a grant the origin issued. */
export function grantRefused(ctx: DownloadContext, failure: FetchChunkFailure): Partial<DownloadContext> {
  return { grantRejections: ctx.grantRejections + 1, rejectedCode: failure.code ?? ctx.rejectedCode };
}

/** True when the origin keeps issuing grants the gateway keeps refusing: retrying with a new one is pointless. */
export const grantsKeepFailing = (ctx: DownloadContext): boolean => ctx.grantRejections >= ctx.maxGrantRejections;

/** Some peer (not banned, since banned peers are dropped from `peers`) holds a chunk we lack. */
export function peersCanHelp(ctx: DownloadContext): boolean {
  return Object.values(ctx.peers).some((p) => p.have.some((h, i) => h && !ctx.have[i]));
}

export function grantRejectedError(ctx: DownloadContext): DownloadError {
  const code = ctx.rejectedCode ?? 'denied';
  return {
    code: 'grant_rejected',
    message: `the gateway rejects this origin's grants: grant secrets differ? (${code}; ${ctx.grantRejections} ` +
      'grants refused while the origin kept granting, and no peer has the missing chunks)',
  };
}

/** Why the download gave up after `origin.outageExpired`. */
export function outageError(ctx: DownloadContext): DownloadError {
  if (grantsKeepFailing(ctx)) return grantRejectedError(ctx);
  return {
    code: 'origin_unreachable',
    message: 'the origin did not answer (NATS or the gateway down?) for too long, and no peer brought a chunk meanwhile; ' +
      `${ctx.haveCount} verified chunks are kept for a resume`,
  };
}
