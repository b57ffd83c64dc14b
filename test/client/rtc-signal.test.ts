/**
 * What a link's signalling costs: by default the offer and the answer carry their ICE candidates (gathering on
 * 127.0.0.1 ends within milliseconds), so a link takes two relayed messages instead of four; with `bundleMs: 0`
 * every candidate trickles on its own. Both ends live on one real node-datachannel host (one `cleanup()`), wired
 * to each other directly instead of through the relay.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRtcHost, type RtcHostOptions, type RtcLink } from '../../client/p2p/rtc.js';
import { createLogger } from '../../lib/logger.js';
import type { RelayedSignal, SignalMessage } from '../../protocol/mod.js';
import { openWithRetry, type SetupAttempt } from '../helpers/setup.js';

interface Pair extends SetupAttempt { sent: SignalMessage[] }

/** An offerer and an answerer on `host`, each one's signals handed to the other (the answerer made on the offer). */
function pair(host: ReturnType<typeof createRtcHost>, connId: string): Pair {
  const sent: SignalMessage[] = [];
  let offerer: RtcLink | null = null;
  let answerer: RtcLink | null = null;
  let open = 0;
  let closed = 0;
  const events = { onConnected() {}, onOpen() { open++; }, onMessage() {}, onDrain() {}, onClosed() { closed++; } };
  const deliver = (to: () => RtcLink | null, from: string) => async (m: SignalMessage) => {
    sent.push(m);
    // as the relay does: asynchronously, with the sender's id added
    setTimeout(() => to()?.handleSignal({ ...m, from } as RelayedSignal), 1);
  };
  const makeAnswerer = () => host.create({ role: 'answerer', remotePeerId: 'p-offerer', connId, videoId: 'v',
    sendSignal: deliver(() => offerer, 'p-answerer'), events });
  offerer = host.create({ role: 'offerer', remotePeerId: 'p-answerer', connId, videoId: 'v', events,
    sendSignal: deliver(() => (answerer ??= makeAnswerer()), 'p-offerer') });
  return { sent, opened: () => open === 2, failed: () => closed > 0,
    close: () => { offerer?.close('set-up failed'); answerer?.close('set-up failed'); } };
}

const options = (extra: Partial<RtcHostOptions> = {}): RtcHostOptions =>
  ({ bindAddress: '127.0.0.1', logger: createLogger('rtc-signal', 'error'), releaseGraceMs: 50, ...extra });

test('by default the offer and answer carry the candidates: two messages per link, and it opens', async () => {
  const host = createRtcHost(options());
  try {
    const p = await openWithRetry((n) => pair(host, `bundled${n}`), 'both ends');
    const kinds = p.sent.map((m) => m.kind);
    assert.equal(kinds.filter((k) => k !== 'candidate'), ['offer', 'answer']);
    assert.is(kinds.filter((k) => k === 'candidate').length, 0, `candidates sent apart: ${kinds.join(',')}`);
    for (const m of p.sent) assert.match(m.sdp ?? '', /\r?\na=candidate:/, `${m.kind} without a candidate line`);
    assert.match(p.sent[0]!.sdp ?? '', /a=setup:active/, 'the offer still prefers the active DTLS role');
  } finally {
    host.shutdown();
  }
});

test('bundleMs 0 sends the description at once and trickles each candidate', async () => {
  const host = createRtcHost(options({ bundleMs: 0 }));
  try {
    const p = await openWithRetry((n) => pair(host, `trickle${n}`), 'both ends');
    const kinds = p.sent.map((m) => m.kind);
    assert.ok(kinds.filter((k) => k === 'candidate').length >= 2, `expected trickled candidates: ${kinds.join(',')}`);
    assert.not.match(p.sent.find((m) => m.kind === 'offer')?.sdp ?? '', /a=candidate:/);
  } finally {
    host.shutdown();
  }
});

test.run();
