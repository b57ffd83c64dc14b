/**
 * A user nkey that signs cheaply. nkeys' `KeyPair` re-derives the ed25519 key pair from its seed on every call
 * (`getPublicKey`, `sign`), and nats-core's `jwtAuthenticator` builds a new one per connect: three scalar
 * multiplications for each NATS connect, about 25 ms each in pure JavaScript on a busy browser main thread, right
 * on a watch page's way to its first frame. Here the pair is derived once, the public key encoded from it, and
 * each signature is one `nacl.sign.detached`. Keys are written in nkeys' format (lib/nkey.ts).
 */
import { jwtAuthenticator, type Authenticator } from '@nats-io/nats-core';
import nacl from 'tweetnacl';
import { toBase64 } from '../protocol/mod.js';
import { encodeUserPublicKey, encodeUserSeed } from './nkey.js';

export interface NkeySigner {
  /** the public key, `U…` */
  readonly publicKey: string;
  /** the seed, `SU…` (what a creds file holds) */
  readonly seed: Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}

/** A new user key pair from 32 random bytes (WebCrypto's, in Node and browsers alike). */
export function createUserSigner(): NkeySigner {
  const rawSeed = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return signerFromKeys(rawSeed, nacl.sign.keyPair.fromSeed(rawSeed).publicKey);
}

/**
 * A signer for a key pair whose raw halves are known (the watch page's first script makes one with WebCrypto):
 * no derivation at all, tweetnacl's secret key is the seed followed by the public key.
 */
export function signerFromKeys(rawSeed: Uint8Array, rawPublic: Uint8Array): NkeySigner {
  if (rawSeed.length !== 32 || rawPublic.length !== 32) throw new TypeError('an ed25519 key pair has 32-byte halves');
  const secretKey = new Uint8Array(64);
  secretKey.set(rawSeed, 0);
  secretKey.set(rawPublic, 32);
  return { publicKey: encodeUserPublicKey(rawPublic), seed: encodeUserSeed(rawSeed),
    sign: (data) => nacl.sign.detached(data, secretKey) };
}

/**
 * A NATS authenticator (the shape of nats-core's `jwtAuthenticator`) that signs the server's nonce with `signer`:
 * one signature per connect.
 */
export function signerAuthenticator(jwt: string | (() => string), signer: Pick<NkeySigner, 'publicKey' | 'sign'>) {
  return (nonce?: string) => ({
    jwt: typeof jwt === 'function' ? jwt() : jwt,
    nkey: signer.publicKey,
    sig: nonce ? toBase64(signer.sign(new TextEncoder().encode(nonce)), true) : '',
  });
}

/**
 * The connect authenticator for a credential, on TCP and WebSocket alike: its cached signer when it has one (one
 * signature per connect), else nats-core's own from the seed.
 */
export function natsAuthenticator(creds: {
  jwt: string | (() => string); seed: Uint8Array; signer?: Pick<NkeySigner, 'publicKey' | 'sign'>;
}): Authenticator {
  return creds.signer ? signerAuthenticator(creds.jwt, creds.signer) : jwtAuthenticator(creds.jwt, creds.seed);
}
