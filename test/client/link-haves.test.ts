/**
 * `have` frames on a real link (client/p2p/link.ts): once the link is open and the remote's bitfield is in, a have
 * in range skips the link machine and goes straight to the swarm (`onHave`), once per chunk; one out of range still
 * goes to the machine, which counts it as a strike. Two real node-datachannel links on one host, their signalling
 * wired to each other directly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRtcHost } from '../../client/p2p/rtc.js';
import { startPeerLink, type LinkHandlers, type PeerLinkHandle } from '../../client/p2p/link.js';
import { createLogger } from '../../lib/logger.js';
import type { RelayedSignal, SignalMessage } from '../../protocol/mod.js';
import { waitFor } from '../helpers/env.js';
import { openWithRetry } from '../helpers/setup.js';

const COUNT = 16;
const VIDEO = 'v-haves';
const ROOT = 'ab'.repeat(32);

test('a have in range reaches the swarm once without a machine step; one out of range is a strike', async () => {
  const logger = createLogger('link-haves', 'error');
  const host = createRtcHost({ bindAddress: '127.0.0.1', logger, releaseGraceMs: 50 });
  const haves: number[] = [];
  const handlers = (record: boolean, ends: string[]): LinkHandlers => ({
    onRequest() {}, onCancel() {}, onPiece() {}, onReject() {}, onSnapshot() {}, onDrain() {}, onReleased() {},
    onEnd: (_l, _s, reason) => { ends.push(reason); },
    onHave: (_l, i) => { if (record) haves.push(i); },
  });
  const source = { has: () => false, have: () => new Array<boolean>(COUNT).fill(false), read: async () => new Uint8Array(0) };
  let a: PeerLinkHandle | null = null;
  let b = null as PeerLinkHandle | null;
  const to = (get: () => PeerLinkHandle | null, from: string) => async (_to: string, m: SignalMessage) => {
    setTimeout(() => get()?.handleSignal({ ...m, from } as RelayedSignal), 1);
  };
  const link = (role: 'offerer' | 'answerer', self: string, remote: string, connId: string, send: ReturnType<typeof to>,
    record: boolean, ends: string[]) =>
    startPeerLink({ remotePeerId: remote, connId, role,
      self: { peerId: self, videoId: VIDEO, rootHash: ROOT, chunkCount: COUNT, uploads: true } },
    { rtc: host, logger, sendSignal: send, source, handlers: handlers(record, ends) });
  try {
    const opened = await openWithRetry((n) => {
      const ends: string[] = [];
      const connId = `haves${n}`;
      b = null;
      // b (the receiver under test) is made when a's offer reaches it
      const offerer = link('offerer', 'pa', 'pb', connId,
        to(() => (b ??= link('answerer', 'pb', 'pa', connId, to(() => offerer, 'pb'), true, ends)), 'pa'), false, ends);
      return {
        offerer,
        opened: () => offerer.snapshot().matches('open') && !!b?.snapshot().matches('open') && !!b.snapshot().context.remoteHave,
        failed: () => ends.length > 0,
        close: () => {
          offerer.close('set-up failed: retrying');
          b?.close('set-up failed: retrying');
        },
      };
    }, 'both ends, with bitfields,');
    a = opened.offerer;
    const before = b!.snapshot();
    a.sendHave(3);
    a.sendHave(3);
    a.sendHave(7);
    await waitFor(() => haves.length === 2, 'two haves at the swarm', 5000);
    assert.equal(haves, [3, 7]);
    assert.is(b!.remoteHaveCount(), 2);
    assert.ok(b!.snapshot().context.remoteHave![3] && b!.snapshot().context.remoteHave![7]);
    assert.is(b!.snapshot(), before, 'no machine step for haves in range');

    a.sendHave(COUNT + 2);
    await waitFor(() => b!.snapshot().context.strikes === 1, 'a strike for the out-of-range have', 5000);
    assert.equal(haves, [3, 7]);
  } finally {
    a?.close('done');
    b?.close('done');
    host.shutdown();
  }
});

test.run();
