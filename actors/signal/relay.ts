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
  BadRequestError, decode, encode, isValidId, MAX_SIGNAL_MESSAGE_BYTES, PeerEvents, QueueGroups, SignalMessage,
  Subjects, SUBJECT_PREFIX, TooLargeError, toSwitchyardError, type SignalAck,
} from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { Msg, NatsConnection, Subscription } from '../../lib/nats.js';
import { validateSignal } from './sdp.js';

export interface SignalRelayInit {
  /** sustained messages per second per sender (default 200) */
  maxPerSecondPerPeer?: number;
  /** burst per sender (default 2 × the rate) */
  burstPerPeer?: number;
  /** senders whose buckets are remembered; least recently seen are evicted beyond this (default 10,000) */
  maxTrackedPeers?: number;
}

export interface SignalRelayComponents {
  nc: NatsConnection;
  logger: Logger;
  /** time source for the rate limiter (default: performance.now) */
  clock?: Clock;
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

const SIGNAL_SUBJECT_HEAD = `${SUBJECT_PREFIX}.signal.`;

/** Parses `sy.signal.<from>.<to>`; throws BadRequestError on anything else. */
export function parseSignalSubject(subject: string): { from: string; to: string } {
  if (typeof subject !== 'string' || !subject.startsWith(SIGNAL_SUBJECT_HEAD)) {
    throw new BadRequestError('not a signal subject');
  }
  const rest = subject.slice(SIGNAL_SUBJECT_HEAD.length).split('.');
  if (rest.length !== 2) throw new BadRequestError('signal subject must be sy.signal.<from>.<to>');
  const [from, to] = rest as [string, string];
  if (!isValidId(from)) throw new BadRequestError('invalid sender id in subject');
  if (!isValidId(to)) throw new BadRequestError('invalid recipient id in subject');
  if (from === to) throw new BadRequestError('a peer cannot signal itself');
  return { from, to };
}

interface Bucket {
  tokens: number;
  last: number;
}

export function createSignalRelay(init: SignalRelayInit, components: SignalRelayComponents): SignalRelay {
  const { nc, logger } = components;
  const rate = init.maxPerSecondPerPeer ?? SIGNAL_RELAY_DEFAULTS.maxPerSecondPerPeer;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new TypeError('maxPerSecondPerPeer must be a finite number > 0');
  const burst = init.burstPerPeer ?? rate * 2;
  if (!(burst >= 1) || !Number.isFinite(burst)) throw new TypeError('burstPerPeer must be a finite number ≥ 1');
  const maxTracked = init.maxTrackedPeers ?? SIGNAL_RELAY_DEFAULTS.maxTrackedPeers;
  if (!Number.isInteger(maxTracked) || maxTracked < 1) throw new TypeError('maxTrackedPeers must be an integer ≥ 1');
  const now = components.clock ? () => components.clock!.now() : () => performance.now();

  // Map iteration order is insertion order: re-inserting on every use keeps it least-recently-seen first, so
  // eviction drops the sender idle longest (and an evicted sender merely starts again with a full bucket).
  const buckets = new Map<string, Bucket>();
  const allow = (from: string): boolean => {
    const t = now();
    let b = buckets.get(from);
    if (b) {
      buckets.delete(from);
      b.tokens = Math.min(burst, b.tokens + (Math.max(0, t - b.last) / 1000) * rate);
      b.last = t;
    } else {
      b = { tokens: burst, last: t };
      while (buckets.size >= maxTracked) {
        const oldest = buckets.keys().next();
        if (oldest.done) break;
        buckets.delete(oldest.value);
      }
    }
    buckets.set(from, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  };

  const counters = { relayed: 0, rejected: 0, rateLimited: 0 };
  let sub: Subscription | null = null;

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
      buckets.clear();
    },
    stats: () => ({ ...counters, trackedPeers: buckets.size }),
  };
}
