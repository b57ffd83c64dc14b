/**
 * The HTTP contract by which a peer obtains and renews its NATS credential from a gateway (`POST /auth/peer`,
 * `POST /auth/peer/renew`). The peer sends only the public half of an nkey it generated; the reply is a user JWT
 * for one peer id whose permissions are those of protocol/permissions.ts.
 */
import { Type, type Static } from '@sinclair/typebox';

const NkeyPublic = Type.String({ minLength: 56, maxLength: 56, pattern: '^U[A-Z2-7]{55}$', description: 'nkey user public key' });
const Jwt = Type.String({ minLength: 10, maxLength: 8192, pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$' });

export const PeerCredentialRequest = Type.Object({
  publicKey: NkeyPublic,
  /** a readable prefix for the peer id (logs, dashboards); the gateway appends a random suffix, so no one can
   * choose an id that is already someone else's */
  label: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{1,24}$' })),
}, { additionalProperties: false });
export type PeerCredentialRequest = Static<typeof PeerCredentialRequest>;

export const PeerRenewRequest = Type.Object({
  /** the credential being renewed */
  jwt: Jwt,
  /** ms since the epoch, within a minute of the gateway's clock */
  ts: Type.Integer({ minimum: 0 }),
  /** base64url Ed25519 signature by the credential's key over `switchyard-renew.<ts>.<jwt>` */
  sig: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' }),
}, { additionalProperties: false });
export type PeerRenewRequest = Static<typeof PeerRenewRequest>;

export const PeerCredentialReply = Type.Object({
  peerId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  jwt: Jwt,
  /** ms since the epoch; renew well before */
  expiresAt: Type.Number(),
  /** the connection's inbox prefix: the only inbox the credential may subscribe to */
  inboxPrefix: Type.String({ maxLength: 80 }),
  /** where to connect: NATS over TCP (headless peers) and over WebSocket (browsers) */
  nats: Type.Object({ url: Type.Optional(Type.String({ maxLength: 2048 })), ws: Type.Optional(Type.String({ maxLength: 2048 })) }),
});
export type PeerCredentialReply = Static<typeof PeerCredentialReply>;
