/**
 * Waiting for origin egress (the bandwidth cap u_s, when one is set) before a response's bytes leave, shared by
 * every route that sends origin bytes (chunks, urgent chunks, live segments). A client that gives up while queued
 * must not spend the origin's bandwidth nor count as having received anything: the wait is abandoned when its
 * connection closes, and the route then takes back what it charged.
 */
import type { FastifyReply } from 'fastify';
import type { TokenBucket } from '../lib/tokenbucket.js';

/** Resolves true once `bytes` may leave (at once without a cap), false when the client went away meanwhile. */
export async function awaitEgress(reply: FastifyReply, egress: TokenBucket | undefined, bytes: number): Promise<boolean> {
  if (!egress) return true;
  const gaveUp = new AbortController();
  const onClose = () => gaveUp.abort(new Error('client went away'));
  reply.raw.once('close', onClose);
  try {
    await egress.take(bytes, gaveUp.signal);
    return true;
  } catch {
    return false;
  } finally {
    reply.raw.removeListener('close', onClose);
  }
}
