/**
 * Request/reply with typed failures, over any NATS connection (TCP in Node, WebSocket in a browser): this module
 * imports only the transport-independent NATS core, so the origin, tracker and signalling clients built on it run
 * unchanged in the browser peer.
 */
import {
  NoRespondersError, PermissionViolationError, RequestError, TimeoutError as NatsTimeoutError, type Msg,
  type NatsConnection,
} from '@nats-io/nats-core';
import type { Static, TSchema } from '@sinclair/typebox';
import { decodeReply, encode, MAX_CONTROL_BYTES, TimeoutError, UnauthorizedError, UnavailableError } from '../protocol/mod.js';

export type { NatsConnection };

/** Request/reply with typed failures: no responders → UnavailableError, timeout → TimeoutError. */
export async function request<T extends TSchema>(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  schema: T,
  opts: { timeoutMs?: number; maxBytes?: number } = {},
): Promise<Static<T>> {
  let msg: Msg;
  try {
    msg = await nc.request(subject, encode(body), { timeout: opts.timeoutMs ?? 5000 });
  } catch (cause) {
    throw requestFailure(subject, cause);
  }
  return decodeReply(schema, msg.data, { maxBytes: opts.maxBytes ?? MAX_CONTROL_BYTES, what: `${subject} reply` });
}

/**
 * What a failed request means, from the classes @nats-io/nats-core throws (a RequestError wraps the reason as
 * its `cause`): no responders → UnavailableError, permissions violation → UnauthorizedError, timeout →
 * TimeoutError, anything else (connection closed or draining) → UnavailableError.
 */
export function requestFailure(subject: string, cause: unknown): Error {
  const reason = cause instanceof RequestError && cause.cause !== undefined ? cause.cause : cause;
  if (reason instanceof NoRespondersError || (cause instanceof RequestError && cause.isNoResponders())) {
    return new UnavailableError(`no service answers ${subject}`, { cause });
  }
  if (reason instanceof PermissionViolationError) return new UnauthorizedError(`not permitted to publish ${subject}`);
  if (reason instanceof NatsTimeoutError) return new TimeoutError(`${subject} timed out`);
  const text = reason instanceof Error ? reason.message : String(reason);
  return new UnavailableError(`${subject} failed: ${text}`, { cause });
}
