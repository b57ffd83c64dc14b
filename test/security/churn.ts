/**
 * Child program for the churn tests: opens and closes many node-datachannel links in one RTC host (signalling
 * passed in memory), lets the host free them, forces garbage collection, then calls `shutdown()` (and so
 * `cleanup()`). It is a separate process because the failure it guards against is a native crash at
 * `cleanup()` after freed channels, which would take a test runner down with it.
 * Usage: node --expose-gc dist/test/security/churn.js <connected pairs> <half-open offers>
 * Prints one JSON line: { allocated, live, rssBeforeMb, rssAfterMb, opened } and exits 0.
 */
import { createRtcHost, type RtcLink } from '../../client/p2p/rtc.js';
import { createLogger } from '../../lib/logger.js';
import type { RelayedSignal, SignalMessage } from '../../protocol/mod.js';

const pairs = Number(process.argv[2] ?? 100);
const halfOpen = Number(process.argv[3] ?? 100);
const logger = createLogger('churn', 'error');
const host = createRtcHost({ bindAddress: '127.0.0.1', logger, releaseGraceMs: 200, maxAllocated: 1000 });
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = () => Math.round(process.memoryUsage().rss / 1048576);

const noop = { onConnected() {}, onMessage() {}, onDrain() {} };

/** One offerer/answerer pair in this host; resolves when both channels opened (or after 5 s). */
function pair(i: number): Promise<{ a: RtcLink; b: RtcLink; open: boolean }> {
  return new Promise((resolve) => {
    let opened = 0;
    const links: { a?: RtcLink; b?: RtcLink } = {};
    const deliver = (to: () => RtcLink | undefined, from: string) => async (m: SignalMessage) => {
      setImmediate(() => to()?.handleSignal({ ...m, from } as RelayedSignal));
    };
    const done = (open: boolean) => resolve({ a: links.a!, b: links.b!, open });
    const timer = setTimeout(() => done(false), 5000);
    const onOpen = () => {
      if (++opened === 2) {
        clearTimeout(timer);
        done(true);
      }
    };
    const connId = `churn${i}`;
    links.b = host.create({ role: 'answerer', remotePeerId: 'A', connId, videoId: 'v', sendSignal: deliver(() => links.a, 'B'),
      events: { ...noop, onOpen, onClosed() {} } });
    links.a = host.create({ role: 'offerer', remotePeerId: 'B', connId, videoId: 'v', sendSignal: deliver(() => links.b, 'A'),
      events: { ...noop, onOpen, onClosed() {} } });
  });
}

/** An answerer that gets an offer and then a bye before anything connects (the offer/bye flood's shape). */
async function offerThenBye(i: number, offerSdp: string) {
  const b = host.create({ role: 'answerer', remotePeerId: `x${i % 7}`, connId: `half${i}`, videoId: 'v', sendSignal: async () => {},
    events: { ...noop, onOpen() {}, onClosed() {} } });
  b.handleSignal({ kind: 'offer', connId: `half${i}`, videoId: 'v', sdp: offerSdp, from: `x${i % 7}` });
  await sleep(1);
  b.handleSignal({ kind: 'bye', connId: `half${i}`, videoId: 'v', from: `x${i % 7}` });
}

async function main() {
  // a real offer, made once by an offerer whose signalling goes nowhere
  const offerSdp = await new Promise<string>((resolve) => {
    const o = host.create({ role: 'offerer', remotePeerId: 'src', connId: 'src', videoId: 'v',
      sendSignal: async (m) => { if (m.kind === 'offer') resolve(m.sdp!); },
      events: { ...noop, onOpen() {}, onClosed() {} } });
    setTimeout(() => o.close('offer captured'), 100);
  });
  const rssBeforeMb = mb();
  let opened = 0;
  for (let round = 0; round < pairs; round += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, pairs - round) }, (_, k) => pair(round + k)));
    opened += batch.filter((p) => p.open).length;
    for (const p of batch) {
      // alternate which side closes, so both the local-close and remote-close paths are exercised
      if ((round / 10) % 2 === 0) p.a.close('done');
      else p.b.close('done');
    }
  }
  for (let i = 0; i < halfOpen; i++) await offerThenBye(i, offerSdp);
  for (let i = 0; i < 100 && host.allocated > 0; i++) {
    await sleep(100);
    gc();
  }
  gc();
  await sleep(200);
  gc();
  const out = { allocated: host.allocated, live: host.live, rssBeforeMb, rssAfterMb: mb(), opened };
  host.shutdown();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`churn failed: ${(err as Error).stack}\n`);
  process.exit(2);
});
