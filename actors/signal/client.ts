/**
 * Peer side of signalling. `send` publishes a request on `sy.signal.<self>.<to>` (the only signalling subject a
 * peer may publish on) and turns a rejection into its typed error; `onSignal` listens on
 * `sy.peer.<self>.signal` and hands over only messages that pass the same checks the relay applies (size,
 * schema, validateSignal): a bad incoming message is logged and dropped, never thrown, and a throwing handler
 * cannot break the subscription.
 */
import {
  BadRequestError, decode, isValidId, MAX_SIGNAL_MESSAGE_BYTES, PeerEvents, RelayedSignal, SignalAck, SignalMessage,
  Subjects, validate,
} from '../../protocol/mod.js';
import type { Logger } from '../../lib/logger.js';
import { request, type NatsConnection } from '../../lib/natsrequest.js';
import { validateSignal } from '../../protocol/sdp.js';

/** the relay adds `"from":"<64 chars>",` to a body of at most MAX_SIGNAL_MESSAGE_BYTES */
const MAX_RELAYED_BYTES = MAX_SIGNAL_MESSAGE_BYTES + 128;

export interface SignalClient {
  readonly peerId: string;
  /** Sends `msg` to peer `to` through the relay; throws the typed error (BadRequestError, TooLargeError,
   *  UnavailableError when no relay runs, TimeoutError) when it is refused or not acknowledged. */
  send(to: string, msg: SignalMessage): Promise<void>;
  /** Delivers valid messages addressed to this peer; returns an unsubscribe function. */
  onSignal(handler: (m: RelayedSignal) => void): () => void;
}

export function createSignalClient(
  nc: NatsConnection,
  peerId: string,
  logger: Logger,
  opts: { timeoutMs?: number } = {},
): SignalClient {
  if (!isValidId(peerId)) throw new TypeError(`invalid peer id ${JSON.stringify(peerId)}`);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const inbox = Subjects.peer(peerId, PeerEvents.signal);

  return {
    peerId,
    async send(to, msg) {
      if (!isValidId(to)) throw new BadRequestError(`invalid recipient id ${JSON.stringify(String(to)).slice(0, 80)}`);
      if (to === peerId) throw new BadRequestError('a peer cannot signal itself');
      // the same checks as the relay, so a local bug fails here with a clear error instead of a round trip
      validateSignal(validate(SignalMessage, msg, 'signal message'));
      await request(nc, Subjects.signal(peerId, to), msg, SignalAck, { timeoutMs });
    },
    onSignal(handler) {
      const sub = nc.subscribe(inbox, {
        callback: (err, natsMsg) => {
          if (err) {
            logger.warn('signal subscription error', { err });
            return;
          }
          let m: RelayedSignal;
          try {
            m = decode(RelayedSignal, natsMsg.data, { maxBytes: MAX_RELAYED_BYTES, what: 'relayed signal' });
            validateSignal(m);
            if (m.from === peerId) throw new BadRequestError('signal from self');
          } catch (e) {
            logger.warn('invalid signal dropped', { err: e });
            return;
          }
          try {
            const r = (handler as (m: RelayedSignal) => unknown)(m);
            if (r && typeof (r as PromiseLike<unknown>).then === 'function') {
              Promise.resolve(r).catch((e: unknown) => logger.warn('signal handler failed', { err: e, from: m.from }));
            }
          } catch (e) {
            logger.warn('signal handler failed', { err: e, from: m.from });
          }
        },
      });
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        try { sub.unsubscribe(); } catch { /* connection already closed */ }
      };
    },
  };
}
