/**
 * A peer's NATS connection for the Node client: the portable identity (client/identity.ts: key pair, minted JWT,
 * renewal) over the TCP transport.
 */
import { connectNats, type NatsConnection } from '../lib/nats.js';
import { UnavailableError } from '../protocol/mod.js';
import { obtainPeerIdentity, type PeerIdentity, type PeerIdentityOptions } from './identity.js';

export { obtainPeerIdentity, type PeerIdentity, type PeerIdentityOptions } from './identity.js';

/** A peer's NATS connection with a fresh identity: what `get`, `seed` and `list` run on. */
export interface PeerConnection {
  identity: PeerIdentity;
  nc: NatsConnection;
  close(): Promise<void>;
}

export async function connectAsPeer(opts: PeerIdentityOptions & { nats?: string }): Promise<PeerConnection> {
  const identity = await obtainPeerIdentity(opts);
  const url = opts.nats ?? identity.nats.url;
  if (!url) {
    identity.stop();
    throw new UnavailableError('the gateway advertised no NATS URL; pass --nats');
  }
  try {
    const nc = await connectNats(url, identity.peerId, identity.creds);
    return {
      identity, nc,
      async close() {
        identity.stop();
        await nc.close().catch(() => {});
      },
    };
  } catch (err) {
    identity.stop();
    throw err;
  }
}
