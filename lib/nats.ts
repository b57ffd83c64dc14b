/**
 * NATS plumbing shared by every actor: connecting, serving a request subject with one uniform error path, and
 * making requests whose failures become typed errors. Handlers never see raw bytes they have not validated,
 * and a handler that throws answers with an error body instead of leaving the requester to time out.
 */
import {
  AuthorizationError, connect, UserAuthenticationExpiredError, type NatsConnection, type Msg, type Subscription,
} from '@nats-io/transport-node';
import type { Static, TSchema } from '@sinclair/typebox';
import {
  decode, encode, MAX_CONTROL_BYTES, toSwitchyardError, UnauthorizedError, UnavailableError,
} from '../protocol/mod.js';
import type { Logger } from './logger.js';
import { natsAuthenticator } from './signer.js';

export type { NatsConnection, Msg, Subscription };
// request/reply lives in its own module so that browser code can use it without the Node transport
export { request } from './natsrequest.js';

/** What a NATS connection needs to authenticate (lib/nats.ts `connectNats`). */
export interface NatsCredentials {
  /** user JWT; a function is asked again on every reconnect, so a renewed credential takes effect */
  jwt: string | (() => string);
  /** the user's nkey seed (never leaves the process that generated it, for peers) */
  seed: Uint8Array;
  /** signs the connect nonce without re-deriving the key each time (client/signer.ts); else the seed does */
  signer?: { publicKey: string; sign(data: Uint8Array): Uint8Array };
  /** peers must use their own inbox prefix: it is all their permissions let them subscribe to */
  inboxPrefix?: string;
  /** the name the connection shows in server logs */
  name?: string;
}


/**
 * Connects with a credential (every Switchyard NATS refuses anonymous connections). Reconnects forever: a NATS
 * restart must degrade a download, not end it. The JWT may be a function so that a renewed credential is used
 * on the next reconnect (a server closes a connection whose JWT expired).
 */
export async function connectNats(url: string, name: string, creds?: NatsCredentials): Promise<NatsConnection> {
  try {
    return await connect({
      // a cluster is given as comma-separated URLs: try them all at connect (gossip adds the rest later)
      servers: url.split(',').map((u) => u.trim()).filter(Boolean), name: creds?.name ?? name, maxReconnectAttempts: -1, reconnectTimeWait: 250,
      // no stack captured per request (an Error built for every request, in case it times out): errors are
      // wrapped with their own context where they are parsed, and a swarm makes thousands of requests
      noAsyncTraces: true,
      ...(creds ? { authenticator: natsAuthenticator(creds), ignoreAuthErrorAbort: true } : {}),
      ...(creds?.inboxPrefix ? { inboxPrefix: creds.inboxPrefix } : {}),
    });
  } catch (cause) {
    const refusal = authRefusal(cause);
    if (refusal) throw new UnauthorizedError(`NATS at ${url} refused the credential: ${refusal.message}`);
    throw new UnavailableError(`cannot connect to NATS at ${url}`, { cause });
  }
}

/** The server's refusal of a credential, if that is why a connect failed (the client may wrap it as `cause`). */
function authRefusal(err: unknown): Error | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof AuthorizationError || e instanceof UserAuthenticationExpiredError) return e;
  }
  return null;
}

export interface ServeOptions<T extends TSchema> {
  subject: string;
  queue?: string;
  schema: T;
  maxBytes?: number;
  logger: Logger;
  handler: (req: Static<T>, msg: Msg) => Promise<unknown>;
  /** counts the handler's run (answer included) among a service's requests in progress, for a graceful leave */
  inflight?: Inflight;
}

/**
 * Requests a service is still answering. A queue-group member that leaves drains its subscriptions (the server
 * routes nothing more to it, what it routed already is delivered) and then waits here, before it closes what the
 * handlers use: a request routed to a leaving worker is answered, not dropped or failed with `internal`.
 */
export interface Inflight {
  track(p: Promise<unknown>): void;
  /** resolves when nothing is in progress (runs started meanwhile included) */
  idle(): Promise<void>;
}

export function createInflight(): Inflight {
  const running = new Set<Promise<unknown>>();
  return {
    track(p) {
      running.add(p);
      const forget = () => running.delete(p);
      p.then(forget, forget);
    },
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}

/** Leaves the queue groups of `subs` (drained: nothing routed here is lost), then waits for answers in progress. */
export async function leaveQueueGroups(subs: Subscription[], inflight: Inflight, logger: Logger): Promise<void> {
  await Promise.all(subs.map((s) => s.drain().catch((err: unknown) => {
    // the connection is closing or closed: nothing left to drain, so just forget the subscription
    logger.debug('drain failed', { err });
    try {
      s.unsubscribe();
    } catch {
      // already closed with its connection
    }
  })));
  await inflight.idle();
}

/** Subscribes to a request subject; every message is answered with the handler's result or an error body. */
export function serve<T extends TSchema>(nc: NatsConnection, opts: ServeOptions<T>): Subscription {
  const maxBytes = opts.maxBytes ?? MAX_CONTROL_BYTES;
  return nc.subscribe(opts.subject, {
    ...(opts.queue ? { queue: opts.queue } : {}),
    callback: (err, msg) => {
      if (err) {
        opts.logger.warn('subscription error', { subject: opts.subject, err });
        return;
      }
      const run = (async () => {
        let reply: unknown;
        try {
          const req = decode(opts.schema, msg.data, { maxBytes, what: `${opts.subject} request` });
          reply = await opts.handler(req, msg);
        } catch (e) {
          const se = toSwitchyardError(e);
          if (se.code === 'internal') opts.logger.error('handler failed', { subject: opts.subject, err: se.cause ?? e });
          else opts.logger.debug('request rejected', { subject: opts.subject, code: se.code, message: se.message });
          reply = se.toBody();
        }
        if (msg.reply) {
          try {
            msg.respond(encode(reply));
          } catch (e) {
            opts.logger.warn('could not respond', { subject: opts.subject, err: e });
          }
        }
      })();
      opts.inflight?.track(run);
    },
  });
}
