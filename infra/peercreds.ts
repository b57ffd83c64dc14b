/**
 * Minting peer credentials: a short-lived user JWT for one peer id, signed with the application account's
 * signing key, with the permissions of protocol/permissions.ts. The peer generates its own nkey pair and sends
 * only the public key, so its seed never leaves its process; the JWT names the peer id, the server enforces its
 * permissions, and services read that id from the subjects it allows.
 *
 * Renewal is stateless: a peer proves it holds the key of a credential this minter issued (a signature over a
 * fresh timestamp and the credential) and gets a new JWT for the same peer id and key.
 */
import { randomBytes } from 'node:crypto';
import { decode as decodeJwt, encodeUser } from '@nats-io/jwt';
import { createUser, fromPublic, fromSeed } from '@nats-io/nkeys';
import { connectNats, type NatsConnection } from '../lib/nats.js';
import type { AuthMaterial } from './auth.js';
import { inboxPrefixFor, PEER_LIMITS, peerPermissions } from '../protocol/permissions.js';
import { isValidId } from '../protocol/subjects.js';
import { UnauthorizedError, BadRequestError } from '../protocol/errors.js';

export interface PeerCredential {
  peerId: string;
  jwt: string;
  /** ms since the epoch */
  expiresAt: number;
  inboxPrefix: string;
}

export interface PeerMinter {
  /** a credential for a new peer id (random unless given: tests and operators may name peers) */
  mint(userPublicKey: string, opts?: { peerId?: string; label?: string; ttlMs?: number }): Promise<PeerCredential>;
  /** a fresh credential for the holder of `jwt`, proven by `sig` over `renewProofText(ts, jwt)` */
  renew(req: { jwt: string; ts: number; sig: string }): Promise<PeerCredential>;
}

export interface PeerMinterInit {
  /** seed of the account signing key */
  signingSeed: string;
  /** the application account's public key (the JWT's issuer_account) */
  accountPublicKey: string;
  /** credential lifetime, default 1 h */
  ttlMs?: number;
  /** how long after expiry a credential may still be renewed (default 5 min) */
  renewGraceMs?: number;
  /** how far a renewal timestamp may be from now (default 60 s) */
  maxSkewMs?: number;
  now?: () => number;
}

export const PEER_CREDENTIAL_DEFAULTS = { ttlMs: 60 * 60 * 1000, renewGraceMs: 5 * 60 * 1000, maxSkewMs: 60_000 } as const;

/** The text a peer signs to renew: binds the proof to one credential and one moment. */
export const renewProofText = (ts: number, jwt: string) => `switchyard-renew.${ts}.${jwt}`;

/** A fresh random peer id, optionally after a readable label (never chosen whole by a stranger). */
export const newPeerId = (label?: string) =>
  label ? `${label}-${randomBytes(9).toString('base64url')}` : `p${randomBytes(9).toString('base64url')}`;

const te = new TextEncoder();

function checkUserKey(pk: string): void {
  try {
    if (typeof pk !== 'string' || !pk.startsWith('U') || fromPublic(pk).getPublicKey() !== pk) throw new Error('not a user key');
  } catch (cause) {
    throw new BadRequestError('publicKey must be an nkey user public key (U…)', { cause });
  }
}

export function createPeerMinter(init: PeerMinterInit): PeerMinter {
  const signer = fromSeed(te.encode(init.signingSeed));
  const signerPub = signer.getPublicKey();
  const ttlMs = init.ttlMs ?? PEER_CREDENTIAL_DEFAULTS.ttlMs;
  const grace = init.renewGraceMs ?? PEER_CREDENTIAL_DEFAULTS.renewGraceMs;
  const skew = init.maxSkewMs ?? PEER_CREDENTIAL_DEFAULTS.maxSkewMs;
  const now = init.now ?? Date.now;

  async function issue(peerId: string, userPublicKey: string, ttl: number): Promise<PeerCredential> {
    // JWT expiry has one-second resolution; round up so a credential never ends before its promised time
    const exp = Math.ceil((now() + ttl) / 1000);
    const jwt = await encodeUser(peerId, userPublicKey, init.accountPublicKey,
      { ...peerPermissions(peerId), ...PEER_LIMITS } as never,
      { signer, exp });
    return { peerId, jwt, expiresAt: exp * 1000, inboxPrefix: inboxPrefixFor(peerId) };
  }

  return {
    async mint(userPublicKey, opts = {}) {
      checkUserKey(userPublicKey);
      if (opts.label !== undefined && !/^[A-Za-z0-9]{1,24}$/.test(opts.label)) throw new BadRequestError('invalid label');
      const peerId = opts.peerId ?? newPeerId(opts.label);
      if (!isValidId(peerId)) throw new BadRequestError('invalid peer id');
      return issue(peerId, userPublicKey, opts.ttlMs ?? ttlMs);
    },
    async renew({ jwt, ts, sig }) {
      let claims: { iss?: string; sub?: string; name?: string; exp?: number; nats?: { issuer_account?: string } };
      try {
        claims = decodeJwt(jwt) as typeof claims;
      } catch (cause) {
        throw new UnauthorizedError(`not a credential of this deployment (${(cause as Error).message})`);
      }
      if (claims.iss !== signerPub || claims.nats?.issuer_account !== init.accountPublicKey) {
        throw new UnauthorizedError('not a credential of this deployment');
      }
      const t = now();
      if (!Number.isFinite(ts) || Math.abs(t - ts) > skew) throw new UnauthorizedError('renewal timestamp too far from now');
      if (typeof claims.exp !== 'number' || claims.exp * 1000 + grace < t) throw new UnauthorizedError('credential expired too long ago');
      const peerId = claims.name ?? '';
      const sub = claims.sub ?? '';
      if (!isValidId(peerId)) throw new UnauthorizedError('credential names no peer');
      checkUserKey(sub);
      let ok = false;
      try {
        ok = fromPublic(sub).verify(te.encode(renewProofText(ts, jwt)), Buffer.from(sig, 'base64url'));
      } catch {
        ok = false;
      }
      if (!ok) throw new UnauthorizedError('renewal proof does not match the credential key');
      return issue(peerId, sub, ttlMs);
    },
  };
}

/**
 * An in-process peer connection with a credential minted on the spot: for tests, benchmarks and operator tools
 * that hold the signing key. Real peers use client/credentials.ts and never see the key.
 */
export async function connectMintedPeer(natsUrl: string, minter: PeerMinter, opts: { peerId?: string; label?: string } = {}):
Promise<{ peerId: string; nc: NatsConnection }> {
  const kp = createUser();
  const c = await minter.mint(kp.getPublicKey(), opts);
  const nc = await connectNats(natsUrl, c.peerId, { jwt: c.jwt, seed: kp.getSeed(), inboxPrefix: c.inboxPrefix });
  return { peerId: c.peerId, nc };
}

/** A minter over a deployment's auth material. */
export function minterFor(auth: AuthMaterial, opts: Omit<PeerMinterInit, 'signingSeed' | 'accountPublicKey'> = {}): PeerMinter {
  return createPeerMinter({ signingSeed: auth.signingSeed, accountPublicKey: auth.account.publicKey, ...opts });
}
