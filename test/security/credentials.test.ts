/**
 * Peer credentials end to end: the gateway mints them (anonymous with a per-address limit, or behind API keys),
 * renews them only for the holder of the key, and a peer's connection outlives its JWT's expiry because the
 * client renews and reconnects with the new one. Real stack: nats-server in operator mode, gateway, origin.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { connectAsPeer, obtainPeerIdentity } from '../../client/credentials.js';
import { startStack, type Stack } from '../../client/stack.js';
import { renewProofText } from '../../infra/peercreds.js';
import { createLogger } from '../../lib/logger.js';
import { ErrorCodes, type SwitchyardError } from '../../protocol/mod.js';

interface Ctx { dir: string; stack: Stack; keyed: Stack }
const t = suite<Ctx>('security: peer credentials from the gateway');
t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-creds-'));
  // JWT expiry has one-second resolution: 3 s credentials renew after 2 s and expire during the test
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'a'), capacity: 1, peerCredentialTtlMs: 3000 }, createLogger('creds', 'error'));
  ctx.keyed = await startStack({ dataDir: join(ctx.dir, 'b'), capacity: 1, apiKeys: ['k-right'] }, createLogger('keyed', 'error'));
});
t.after(async (ctx) => {
  await ctx.stack.stop();
  await ctx.keyed.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string } } };
};

t('a connection outlives several credential lifetimes: renewed before expiry, reconnected with the new JWT', async ({ stack }) => {
  const peer = await connectAsPeer({ gateway: stack.gatewayUrl, label: 'renewer' });
  try {
    assert.match(peer.identity.peerId, /^renewer-/);
    const first = peer.identity.expiresAt();
    const origin = createOriginClient(peer.nc, { timeoutMs: 3000 });
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 2000));
      assert.ok(Array.isArray(await origin.list()), `still served after ${(i + 1) * 2} s`);
    }
    assert.ok(peer.identity.expiresAt() > first + 2000, 'the credential was renewed');
  } finally {
    await peer.close();
  }
});

t('renewal needs a proof by the credential\'s own key, fresh, for this deployment', async ({ stack, keyed }) => {
  const kp = createUser();
  const minted = await post(`${stack.gatewayUrl}/auth/peer`, { publicKey: kp.getPublicKey() });
  assert.is(minted.status, 200);
  const jwt = minted.body.jwt as string;
  const sign = (k: ReturnType<typeof createUser>, ts: number) =>
    Buffer.from(k.sign(new TextEncoder().encode(renewProofText(ts, jwt)))).toString('base64url');
  const ok = await post(`${stack.gatewayUrl}/auth/peer/renew`, { jwt, ts: Date.now(), sig: sign(kp, Date.now()) });
  assert.is(ok.status, 200, JSON.stringify(ok.body));
  assert.is(ok.body.peerId, minted.body.peerId, 'same peer id');
  const thief = createUser();
  const stolen = await post(`${stack.gatewayUrl}/auth/peer/renew`, { jwt, ts: Date.now(), sig: sign(thief, Date.now()) });
  assert.is(stolen.status, 401);
  const old = Date.now() - 5 * 60_000;
  const replay = await post(`${stack.gatewayUrl}/auth/peer/renew`, { jwt, ts: old, sig: sign(kp, old) });
  assert.is(replay.status, 401);
  const foreign = await post(`${keyed.gatewayUrl}/auth/peer/renew`, { jwt, ts: Date.now(), sig: sign(kp, Date.now()) });
  assert.is(foreign.status, 401, 'another deployment does not renew our credentials');
  const bad = await post(`${stack.gatewayUrl}/auth/peer`, { publicKey: 'UNOTAKEY' });
  assert.is(bad.status, 400);
  const seedAsKey = await post(`${stack.gatewayUrl}/auth/peer`, { publicKey: createUser().getPublicKey(), label: 'a.b' });
  assert.is(seedAsKey.status, 400, 'labels cannot smuggle subject tokens');
});

t('an operator can require an API key to join', async ({ keyed }) => {
  const pk = createUser().getPublicKey();
  assert.is((await post(`${keyed.gatewayUrl}/auth/peer`, { publicKey: pk })).status, 401);
  assert.is((await post(`${keyed.gatewayUrl}/auth/peer`, { publicKey: pk }, { authorization: 'Bearer k-wrong' })).status, 401);
  assert.is((await post(`${keyed.gatewayUrl}/auth/peer`, { publicKey: pk }, { 'x-api-key': 'k-right' })).status, 200);
  try {
    await obtainPeerIdentity({ gateway: keyed.gatewayUrl });
    assert.unreachable('joined without a key');
  } catch (e) {
    assert.is((e as SwitchyardError).code, ErrorCodes.unauthorized);
  }
  const id = await obtainPeerIdentity({ gateway: keyed.gatewayUrl, apiKey: 'k-right' });
  id.stop();
});

t('anonymous minting is limited per address', async ({ stack }) => {
  let limited = 0;
  let minted = 0;
  const t0 = Date.now();
  for (let i = 0; i < 200 && limited === 0; i++) {
    const r = await post(`${stack.gatewayUrl}/auth/peer`, { publicKey: createUser().getPublicKey() });
    if (r.status === 429) {
      limited++;
      assert.is(r.body.error?.code, ErrorCodes.rateLimited);
    } else minted++;
  }
  assert.is(limited, 1, 'the address was limited');
  // a burst of 120, refilled at 2 a second (the earlier tests of this file minted a few too)
  const allowance = 120 + (2 * (Date.now() - t0)) / 1000;
  assert.ok(minted <= allowance, `at most the allowance was minted (${minted} of ${allowance.toFixed(0)})`);
});

t.run();
