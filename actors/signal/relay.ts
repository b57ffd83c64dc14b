/**
 * The signalling relay: a NATS service in queue group `signal` (add workers to scale) that forwards WebRTC
 * offers, answers, ICE candidates and byes between peers.
 *
 * Peer X publishes a request on `sy.signal.X.<to>`; NATS permissions let X publish only `sy.signal.X.*` and
 * subscribe only `sy.peer.X.>`, so the sender's identity is the subject's `<from>` token, never anything in
 * the body (the schema refuses a `from` field). The relay checks, in order of cost:
 *   1. size (≤ MAX_SIGNAL_MESSAGE_BYTES) and the subject's tokens (valid ids, from ≠ to),
 *   2. the sender's rate (token bucket per `from`, so one peer cannot flood the relay or another peer),
 *   3. UTF-8 JSON + the `SignalMessage` schema, then `validateSignal` (SDP / candidate rules, sdp.ts),
 * then publishes the body plus `from` on `sy.peer.<to>.signal` and replies `SignalAck {delivered: true}`
 * (delivery is fire-and-forget: the relay cannot know whether `to` listens). Every failure is answered with a
 * typed error body; nothing a peer sends can throw out of the callback.
 *
 * This does not use lib/nats `serve()` because serve() decodes the body before the handler runs: the relay
 * must see the subject first (to rate-limit a flood before paying for JSON parsing) and must count every
 * rejection, including malformed JSON. The error path is the same as serve()'s.
 */
import {
  BadRequestError, decode, encode, MAX_SIGNAL_MESSAGE_BYTES, parseSignalSubject, PeerEvents, QueueGroups,
  SignalMessage, Subjects, TooLargeError, toSwitchyardError, type SignalAck,
} from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { createKeyedRateLimiter } from '../../lib/ratelimit.js';
import type { Msg, NatsConnection, Subscription } from '../../lib/nats.js';
import type { BucketOverrides } from '../../lib/kv/buckets.js';
import { openLinkBook, type LinkBook } from './links.js';
import { validateSignal } from '../../protocol/sdp.js';

export interface SignalRelayInit {
  /** sustained messages per second per sender (default 200) */
  maxPerSecondPerPeer?: number;
  /** burst per sender (default 2 × the rate) */
  burstPerPeer?: number;
  /** senders whose buckets are remembered; least recently seen are evicted beyond this (default 10,000) */
  maxTrackedPeers?: number;
  /** this deployment's bucket overrides (replicas), used when the relay creates `sy_links` */
  bucket?: BucketOverrides;
}

export interface SignalRelayComponents {
  nc: NatsConnection;
  logger: Logger;
  /** time source for the rate limiter (default: performance.now) */
  clock?: Clock;
  /** where negotiated links are recorded for the tracker (default: the `sy_links` bucket, opened on start) */
  links?: LinkBook;
}

export interface SignalRelayStats {
  relayed: number;
  rejected: number;
  /** of which refused by the rate limiter */
  rateLimited: number;
  /** senders currently tracked by the rate limiter (bounded by maxTrackedPeers) */
  trackedPeers: number;
}

export interface SignalRelay {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): SignalRelayStats;
}

export const SIGNAL_RELAY_DEFAULTS = { maxPerSecondPerPeer: 200, maxTrackedPeers: 10_000 } as const;

/** Kept here for callers that know the relay as the subject's owner; the parser lives with the builders. */
export { parseSignalSubject };

export function createSignalRelay(init: SignalRelayInit, components: SignalRelayComponents): SignalRelay {
  const { nc, logger } = components;
  const rate = init.maxPerSecondPerPeer ?? SIGNAL_RELAY_DEFAULTS.maxPerSecondPerPeer;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new TypeError('maxPerSecondPerPeer must be a finite number > 0');
  const burst = init.burstPerPeer ?? rate * 2;
  if (!(burst >= 1) || !Number.isFinite(burst)) throw new TypeError('burstPerPeer must be a finite number ≥ 1');
  const maxTracked = init.maxTrackedPeers ?? SIGNAL_RELAY_DEFAULTS.maxTrackedPeers;
  if (!Number.isInteger(maxTracked) || maxTracked < 1) throw new TypeError('maxTrackedPeers must be an integer ≥ 1');

  const limiter = createKeyedRateLimiter({ ratePerSecond: rate, burst, maxKeys: maxTracked,
    ...(components.clock ? { now: () => components.clock!.now() } : {}) });
  const allow = (from: string) => limiter.allow(from);

  const counters = { relayed: 0, rejected: 0, rateLimited: 0 };
  let sub: Subscription | null = null;
  let links: LinkBook | null = components.links ?? null;

  const handle = (msg: Msg): SignalAck => {
    if (msg.data.byteLength > MAX_SIGNAL_MESSAGE_BYTES) {
      throw new TooLargeError(`signal message of ${msg.data.byteLength} bytes exceeds ${MAX_SIGNAL_MESSAGE_BYTES}`);
    }
    const { from, to } = parseSignalSubject(msg.subject);
    if (!allow(from)) {
      counters.rateLimited++;
      throw new BadRequestError(`rate limit exceeded: at most ${rate} signal messages/s (burst ${burst}) per peer`);
    }
    const body = decode(SignalMessage, msg.data, { maxBytes: MAX_SIGNAL_MESSAGE_BYTES, what: 'signal message' });
    validateSignal(body);
    nc.publish(Subjects.peer(to, PeerEvents.signal), encode({ ...body, from }));
    // an answer closes a negotiation between two identities the server enforced: evidence for tracker reports
    if (body.kind === 'answer' && links) {
      void links.record(body.videoId, from, to).catch((err) => logger.warn('link not recorded', { err }));
    }
    return { delivered: true };
  };

  const onMessage = (msg: Msg) => {
    let reply: unknown;
    try {
      reply = handle(msg);
      counters.relayed++;
    } catch (e) {
      counters.rejected++;
      const se = toSwitchyardError(e);
      if (se.code === 'internal') logger.error('relay failed', { err: se.cause ?? e });
      else logger.debug('signal rejected', { code: se.code, message: se.message });
      reply = se.toBody();
    }
    if (msg.reply) {
      try {
        msg.respond(encode(reply));
      } catch (e) {
        logger.warn('could not respond', { err: e });
      }
    }
  };

  return {
    async start() {
      if (sub) return;
      links ??= await openLinkBook(nc, init.bucket ? { bucket: init.bucket } : {});
      sub = nc.subscribe(Subjects.signalAll, {
        queue: QueueGroups.signal,
        callback: (err, msg) => {
          if (err) {
            logger.warn('subscription error', { subject: Subjects.signalAll, err });
            return;
          }
          onMessage(msg);
        },
      });
      await nc.flush();
      logger.info('signal relay started', { rate, burst });
    },
    async stop() {
      const s = sub;
      sub = null;
      if (!s) return;
      try {
        await s.drain();
      } catch {
        try { s.unsubscribe(); } catch { /* connection already closed */ }
      }
      limiter.clear();
    },
    stats: () => ({ ...counters, trackedPeers: limiter.size }),
  };
}
