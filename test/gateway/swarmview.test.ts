/**
 * The gateway's swarm view with an operator's egress target (gateway/swarmview.ts), over a real nats-server:
 * first copies always go out, second copies only while this gateway's sends of the video, the copy and the first
 * copies still owed fit the budget, and once it is spent a chunk already sent goes out again only through the
 * valve. A send that did not happen gives its bytes back.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSwarmView, type SwarmView } from '../../gateway/swarmview.js';
import type { Clock } from '../../lib/clock.js';
import { createLogger } from '../../lib/logger.js';
import { startEnv, type TestEnv } from '../helpers/env.js';

const t = suite<{ env: TestEnv; view: SwarmView; clock: Clock & { t: number } }>('swarm view: egress budget (real nats-server)');

t.before(async (ctx) => {
  ctx.env = await startEnv();
  ctx.clock = { t: 1_000_000, now() { return this.t; } };
  ctx.view = await createSwarmView({ valveMs: 5000 },
    { nc: await ctx.env.connect('gateway'), clock: ctx.clock, logger: createLogger('t', 'silent') });
});
t.after(async ({ env, view }) => {
  await view.stop();
  await env.close();
});

// a video of 4 chunks of 100 bytes
const budget = (e: number) => ({ limit: e * 400, videoBytes: 400, bytes: 100 });
const send = (view: SwarmView, video: string, index: number, peer: string, e: number) => {
  const ok = view.originShouldServe(video, index, peer, false, budget(e));
  if (ok) view.noteServed(video, index, peer, 100);
  return ok;
};

t('E = 1: every chunk once; a second copy is declined even before the tracker knows a holder', ({ view }) => {
  for (let i = 0; i < 4; i++) assert.ok(send(view, 'v1', i, `p${i}`, 1), `first copy of ${i}`);
  assert.not.ok(send(view, 'v1', 0, 'p9', 1), 'second copy of 0');
  assert.not.ok(send(view, 'v1', 3, 'p9', 1), 'second copy of 3');
  assert.is(view.sentBytes('v1'), 400);
});

t('E = 1.5: second copies while the first copies still owed fit, then declined', ({ view }) => {
  assert.ok(send(view, 'v2', 0, 'a', 1.5), 'first copy');
  // sent 100, owed 300 first copies: two more copies fit in 600
  assert.ok(send(view, 'v2', 0, 'b', 1.5), 'second copy (no holder with spare upload: served)');
  assert.ok(send(view, 'v2', 0, 'c', 1.5), 'third copy still fits');
  assert.not.ok(send(view, 'v2', 0, 'd', 1.5), 'budget spent');
  // the owed first copies still go out, whatever the budget
  for (let i = 1; i < 4; i++) assert.ok(send(view, 'v2', i, 'e', 1.5), `first copy of ${i}`);
  assert.is(view.sentBytes('v2'), 600);
});

t('a send that did not happen gives its bytes back; the valve serves a requester still asking', ({ view, clock }) => {
  for (let i = 0; i < 4; i++) assert.ok(send(view, 'v3', i, 'a', 1.25));
  assert.ok(send(view, 'v3', 1, 'b', 1.25), 'one extra copy fits 500');
  assert.not.ok(send(view, 'v3', 2, 'b', 1.25), 'spent');
  view.forgetServed('v3', 1, 'b', 100);
  assert.is(view.sentBytes('v3'), 400);
  assert.ok(send(view, 'v3', 2, 'b', 1.25), 'the given-back bytes buy the copy');
  assert.not.ok(send(view, 'v3', 3, 'c', 1.25));
  clock.t += 6000;
  assert.ok(send(view, 'v3', 3, 'c', 1.25), 'valve: asked again after valveMs');
  assert.ok(view.stats().valve >= 1);
});

t('unsent: the chunks sent to nobody yet, bounded, from a point that depends on the requester; a send undone counts again', ({ view }) => {
  const video = 'v4';
  const count = 40;
  assert.is(view.unsent(video, count, 'a', 16).length, 16, 'nothing sent yet: as many as asked');
  const firsts = new Set(['c0017292db', 'c008d5e88a', 'c002c0ed4d', 'c0180c3f12'].map((r) => view.unsent(video, count, r, 1)[0]));
  assert.ok(firsts.size > 1, 'different requesters are not all told the same chunk first');
  for (let i = 0; i < count; i++) if (i !== 7 && i !== 23 && i !== 31) view.noteServed(video, i, `p${i}`, 100);
  assert.equal([...view.unsent(video, count, 'a', 16)].sort((x, y) => x - y), [7, 23, 31]);
  assert.is(view.unsent(video, count, 'a', 2).length, 2, 'bounded by max');
  view.noteServed(video, 7, 'x', 100);
  view.noteServed(video, 23, 'x', 100);
  view.noteServed(video, 31, 'x', 100);
  assert.equal(view.unsent(video, count, 'a', 16), [], 'every chunk went out');
  view.forgetServed(video, 23, 'x', 100);
  assert.equal(view.unsent(video, count, 'a', 16), [23], 'a send that did not happen is owed again');
  assert.equal(view.unsent('other', 0, 'a', 16), []);
});

t.run();
