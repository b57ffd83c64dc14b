/**
 * The browser's NATS edge: the same minted per-peer credential as the Node client (client/identity.ts: a key pair
 * made here, a JWT from the gateway's `POST /auth/peer`, renewed before it expires), over nats-server's WebSocket
 * listener (`wsconnect` from the transport-independent NATS core). The origin, tracker and signalling clients take
 * the resulting connection unchanged.
 */
import { wsconnect, type NatsConnection } from '@nats-io/nats-core';
import { natsAuthenticator } from '../lib/signer.js';
import type { Logger } from '../lib/logger.js';
import { obtainPeerIdentity, type PeerIdentity } from '../client/identity.js';
import { UnauthorizedError, UnavailableError } from '../protocol/mod.js';
import { markOnce } from './marks.js';

export interface WebPeerConnection {
  identity: PeerIdentity;
  nc: NatsConnection;
  close(): Promise<void>;
}

/** Obtains a peer identity from `gateway` and connects to `wsUrl` with it; reconnects forever. */
export async function connectWebPeer(opts: { gateway: string; wsUrl: string; label?: string; logger: Logger;
  /** an identity already being obtained (the watch page asks for it first thing); else one is obtained here */
  identity?: Promise<PeerIdentity>;
}): Promise<WebPeerConnection> {
  const identity = await (opts.identity ?? obtainPeerIdentity({ gateway: opts.gateway, logger: opts.logger,
    ...(opts.label ? { label: opts.label } : {}) }));
  markOnce('identity');
  const { creds } = identity;
  try {
    const nc = await wsconnect({
      servers: opts.wsUrl, name: creds.name ?? identity.peerId, maxReconnectAttempts: -1, reconnectTimeWait: 250,
      authenticator: natsAuthenticator(creds), ignoreAuthErrorAbort: true, noAsyncTraces: true, // as lib/nats.ts
      ...(creds.inboxPrefix ? { inboxPrefix: creds.inboxPrefix } : {}),
    });
    markOnce('nats');
    return {
      identity, nc,
      async close() {
        identity.stop();
        await nc.close().catch(() => {});
      },
    };
  } catch (cause) {
    identity.stop();
    const text = String((cause as Error)?.message ?? cause);
    if (/authori[sz]ation|authentication/i.test(text)) throw new UnauthorizedError(`NATS refused the credential: ${text}`);
    throw new UnavailableError(`cannot connect to NATS at ${opts.wsUrl}`, { cause });
  }
}
