/**
 * The WebSocket listener browser peers will use runs on the same auth as TCP: a minted peer credential works
 * there with the same permissions, and an anonymous WebSocket client is refused. Real nats-server; the client
 * runs in a child with Node's WebSocket (test/security/ws-peer.ts).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createUser } from '@nats-io/nkeys';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEnv, type TestEnv } from '../helpers/env.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('./ws-peer.js', import.meta.url));
const wsPeer = async (args: string[]) => {
  const { stdout } = await run(process.execPath, ['--experimental-websocket', '--no-warnings', script, ...args], { timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
};

const t = suite<{ env: TestEnv }>('security: NATS over WebSocket, same auth');
t.before(async (ctx) => {
  ctx.env = await startEnv();
  await ctx.env.startOrigin({ capacity: 1 });
});
t.after(async (ctx) => ctx.env.close());

t('the listener is on loopback', ({ env }) => {
  assert.match(env.nats.wsUrl, /^ws:\/\/127\.0\.0\.1:\d+$/);
});

t('an anonymous WebSocket client is refused', async ({ env }) => {
  const r = await wsPeer([env.nats.wsUrl]);
  assert.is(r.connected, false);
  assert.match(String(r.error), /Authorization Violation/);
});

t('a peer credential works over WebSocket, with the same permissions', async ({ env }) => {
  const kp = createUser();
  const c = await env.minter.mint(kp.getPublicKey(), { peerId: 'browserpeer' });
  const r = await wsPeer([env.nats.wsUrl, c.jwt, new TextDecoder().decode(kp.getSeed()), c.inboxPrefix, 'sy.ingest.job']);
  assert.is(r.connected, true, JSON.stringify(r));
  assert.equal(r.catalog, { videos: [] });
  assert.match(String(r.violation), /Permissions Violation for Publish to "sy.ingest.job"/);
});

t.run();
