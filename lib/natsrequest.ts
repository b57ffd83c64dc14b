/**
 * Request/reply with typed failures, over any NATS connection (TCP in Node, WebSocket in a browser): this module
 * imports only the transport-independent NATS core, so the origin, tracker and signalling clients built on it run
 * unchanged in the browser peer.
 */
import type { Msg, NatsConnection } from '@nats-io/nats-core';
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
    const text = String((cause as Error)?.message ?? cause);
    if (/no responders|503/i.test(text)) throw new UnavailableError(`no service answers ${subject}`, { cause });
    if (/permissions violation/i.test(text)) throw new UnauthorizedError(`not permitted to publish ${subject}`);
    if (/timeout/i.test(text)) throw new TimeoutError(`${subject} timed out`);
    throw new UnavailableError(`${subject} failed: ${text}`, { cause });
  }
  return decodeReply(schema, msg.data, { maxBytes: opts.maxBytes ?? MAX_CONTROL_BYTES, what: `${subject} reply` });
}
