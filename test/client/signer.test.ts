/**
 * The cached nkey signer (lib/signer.ts, lib/nkey.ts) makes keys nkeys itself reads: the seed decodes to the same public
 * key, signatures verify under nkeys, and the NATS authenticator signs exactly the nonce it was given.
 */
import { fromPublic, fromSeed } from '@nats-io/nkeys';
import type { webcrypto } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createUserSigner, signerAuthenticator, signerFromKeys } from '../../lib/signer.js';
import { fromBase64 } from '../../protocol/mod.js';

test('seed and public key are nkeys-compatible user keys', () => {
  for (let i = 0; i < 20; i++) {
    const s = createUserSigner();
    assert.match(s.publicKey, /^U[A-Z2-7]{55}$/);
    assert.match(new TextDecoder().decode(s.seed), /^SU[A-Z2-7]{56}$/);
    assert.is(fromSeed(s.seed).getPublicKey(), s.publicKey);
  }
});

test('signatures verify under nkeys, and not for other data or another key', () => {
  const s = createUserSigner();
  const data = new TextEncoder().encode('nonce-123');
  const sig = s.sign(data);
  assert.ok(fromPublic(s.publicKey).verify(data, sig));
  assert.not.ok(fromPublic(s.publicKey).verify(new TextEncoder().encode('nonce-124'), sig));
  assert.not.ok(fromPublic(createUserSigner().publicKey).verify(data, sig));
  assert.equal(sig, fromSeed(s.seed).sign(data), 'ed25519 is deterministic: the same signature as nkeys');
});

test('the authenticator answers the nonce with the current JWT, the public key and its signature', () => {
  const s = createUserSigner();
  let jwt = 'jwt-1';
  const auth = signerAuthenticator(() => jwt, s);
  const a = auth('abc');
  assert.is(a.jwt, 'jwt-1');
  assert.is(a.nkey, s.publicKey);
  assert.ok(fromPublic(s.publicKey).verify(new TextEncoder().encode('abc'), fromBase64(a.sig)!));
  jwt = 'jwt-2';
  assert.is(auth('x').jwt, 'jwt-2', 'a renewed JWT is used on the next connect');
  assert.is(auth().sig, '', 'no nonce, no signature');
});

test('a WebCrypto ed25519 key pair (the watch page makes one) signs as the same nkey', async () => {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const rawPublic = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  const s = signerFromKeys(pkcs8.slice(pkcs8.length - 32), rawPublic);
  assert.is(fromSeed(s.seed).getPublicKey(), s.publicKey, 'the seed is the WebCrypto key');
  const data = new TextEncoder().encode('nonce');
  assert.ok(fromPublic(s.publicKey).verify(data, s.sign(data)));
  const webSig = new Uint8Array(await crypto.subtle.sign('Ed25519', pair.privateKey, data));
  assert.equal(s.sign(data), webSig, 'the same signature as WebCrypto makes');
  assert.throws(() => signerFromKeys(new Uint8Array(31), rawPublic));
});

test.run();
