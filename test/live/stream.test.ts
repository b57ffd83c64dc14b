/**
 * A live stream end to end with headless viewers: a real stack on 127.0.0.1 (origin capacity 1), the live
 * packager running Debian's ffmpeg on a `testsrc` generator, three Node viewers with real node-datachannel links.
 * One viewer holds the origin's slot, the others get the edge from peers; every segment every viewer kept matches
 * its announced hash; the end turns the recording into a video a later client downloads byte-identical.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { createLivePackager } from '../../actors/live/packager.js';
import { download } from '../../api/mod.js';
import { createNodeLiveViewer, type NodeLiveViewer } from '../../client/live/node.js';
import { createRtcHost } from '../../client/p2p/rtc.js';
import { startStack, type Stack } from '../../client/stack.js';
import { sha256Hex } from '../../lib/hash.js';
import { createLogger } from '../../lib/logger.js';
import { systemClock } from '../../lib/clock.js';
import { LiveModes, ServiceRoles, type LiveEnd } from '../../protocol/mod.js';
import { waitFor } from '../helpers/env.js';

const test = suite('live: headless viewers');
const logger = createLogger('live-test');
let dir = '';
let stack: Stack;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-live-'));
  stack = await startStack({ dataDir: dir, capacity: 1, trackerIntervalMs: 1000 }, logger);
});
test.after(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('origin feeds one viewer, peers the rest; every segment verifies; the end becomes a video', async () => {
  const ingestNc = await stack.connectService(ServiceRoles.ingest, 'live-ingest');
  const origin = createOriginClient(ingestNc);
  const packager = createLivePackager({ streamId: 'testlive', input: { kind: 'testsrc' }, workDir: dir, dvrSec: 20,
    encoding: { durationSec: 12, videoBitrate: 300_000, audioBitrate: 32_000, width: 320, height: 180 } },
  { nc: ingestNc, store: stack.store, publish: (m) => origin.publish(m), clock: systemClock, logger });
  await packager.start();
  await waitFor(() => (packager.window()?.segments.length ?? 0) >= 1 || undefined, 'first segment', 20000);
  const rtc = createRtcHost({ logger, bindAddress: '127.0.0.1' });
  const viewers: NodeLiveViewer[] = [];
  const corrupt: number[] = [];
  for (let i = 0; i < 3; i++) {
    const peer = await stack.connectPeer({ label: `viewer${i}` });
    const v = createNodeLiveViewer({ streamId: 'testlive', peerId: peer.peerId, gatewayUrl: stack.gatewayUrl,
      mode: LiveModes.default, bindAddress: '127.0.0.1' }, { nc: peer.nc, logger, rtc });
    v.on((e) => e.type === 'segment.corrupt' && corrupt.push(e.seq));
    await v.start();
    viewers.push(v);
  }
  const end: LiveEnd = await packager.ended;
  assert.ok(end.videoId, 'the recording became a video');
  await waitFor(() => viewers.every((v) => v.ended()) || undefined, 'every viewer heard the end', 10000);
  const stats = viewers.map((v) => v.stats());
  for (const [i, v] of viewers.entries()) {
    assert.ok(stats[i]!.verified >= 5, `viewer ${i} verified ${stats[i]!.verified} segments`);
    for (const seq of v.held()) assert.is(sha256Hex(v.segment(seq)!), v.info(seq)!.sha256, `viewer ${i} segment ${seq}`);
  }
  assert.equal(corrupt, []);
  const fromPeers = stats.reduce((t, s) => t + s.bySource.peer, 0);
  const fromSlot = stats.reduce((t, s) => t + s.bySource.origin, 0);
  assert.ok(fromSlot > 0, 'the slot holder fetched from the origin');
  assert.ok(fromPeers > 0, `peers relayed (${JSON.stringify(stats.map((s) => s.bySource))})`);
  const lat = stats.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  console.log(JSON.stringify({ bySource: stats.map((s) => s.bySource), latency_p50: lat[Math.floor(lat.length / 2)],
    playhead: stats.map((s) => s.playhead) }));
  for (const v of viewers) await v.close();
  rtc.shutdown();

  // a later viewer downloads the recording: byte-identical to init + every live segment, verified chunk by chunk
  const out = join(dir, 'vod.mp4');
  const d = await download(end.videoId!, { gateway: stack.gatewayUrl, output: out, logger });
  const r = await d.done;
  await d.close();
  assert.is(r.status, 'complete');
  const vod = readFileSync(out);
  const m = await origin.manifest(end.videoId!);
  assert.ok(m.stream, 'the video is streamable');
  assert.ok(m.stream!.segments.length >= 10, `${m.stream!.segments.length} segments recorded`);
  // the file is the init segment and every segment as announced live, back to back
  const w = packager.window()!;
  assert.is(sha256Hex(vod.subarray(0, m.stream!.init.length)), w.init.sha256);
  const last = w.segments[w.segments.length - 1]!;
  const lastRange = m.stream!.segments[m.stream!.segments.length - 1]!;
  assert.is(lastRange.offset + lastRange.length, vod.byteLength);
  assert.is(sha256Hex(vod.subarray(lastRange.offset)), last.sha256);
  assert.is(m.stream!.segments.length, last.seq + 1);
  await ingestNc.close();
});

test.run();
