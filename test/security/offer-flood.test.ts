/**
 * An offer/bye flood against a seeding peer, all real: a private nats-server, the tracker, the signalling relay
 * (default rate limit), the target peer in a child process (so its RSS is its own), and an attacker that sends
 * 500 offer+bye pairs from one peer id, paced under the relay's limit, with a genuine node-datachannel offer.
 * The target must keep its native connections bounded during the flood, free them afterwards, keep its RSS
 * growth under 20 MB, answer refused offers `busy` no more than its rate allows, and still link with an honest
 * peer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalClient, type SignalRelay } from '../../actors/signal/mod.js';
import type { Tracker } from '../../actors/tracker/mod.js';
import { createPeerNode, type PeerNode } from '../../client/p2p/peer.js';
import { BUSY_REASON } from '../../client/p2p/refusals.js';
import { createRtcHost, type RtcHost } from '../../client/p2p/rtc.js';
import type { Manifest } from '../../protocol/mod.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';

const TARGET = 'floodtarget';
const ATTACKER = 'floodattacker';
const PAIRS = 500;
/** relay default: 200 messages/s per sender, burst 400; an offer and a bye are two messages */
const PAIRS_PER_SECOND = 75;
const CHUNK = 256 * 1024;

interface TargetStats { rssMb: number; live: number; allocated: number; closing: number; links: Array<{ peerId: string; state: string }> }

interface Ctx {
  env: TestEnv;
  tracker: Tracker;
  relay: SignalRelay;
  manifest: Manifest;
  child: ChildProcess;
  ask(): Promise<TargetStats>;
  rtc: RtcHost;
  honest: PeerNode | null;
}

const t = suite<Ctx>('security: offer/bye flood against a seeding peer');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// the whole file must end by itself: a hang is a failure, not a stuck CI job
const deadline = setTimeout(() => {
  process.stderr.write('offer-flood: over its 170 s budget\n');
  process.exit(1);
}, 170_000);
deadline.unref();

t.before(async (ctx) => {
  ctx.env = await startEnv();
  ({ tracker: ctx.tracker, relay: ctx.relay } = await ctx.env.startSwarmServices());
  ctx.rtc = createRtcHost({ bindAddress: '127.0.0.1', logger: ctx.env.logger.child('rtc') });
  ctx.honest = null;

  const bytes = randomBytes(8 * CHUNK);
  const chunks: string[] = [];
  for (let off = 0; off < bytes.byteLength; off += CHUNK) chunks.push(sha256Hex(bytes.subarray(off, off + CHUNK)));
  ctx.manifest = buildManifest({ name: 'flood.bin', mime: 'application/octet-stream', size: bytes.byteLength, chunkSize: CHUNK, chunks });
  const videoPath = join(ctx.env.dir, 'flood.bin');
  const manifestPath = join(ctx.env.dir, 'flood.manifest.json');
  writeFileSync(videoPath, bytes);
  writeFileSync(manifestPath, JSON.stringify(ctx.manifest));

  const script = fileURLToPath(new URL('./flood-target.js', import.meta.url));
  ctx.child = spawn(process.execPath, ['--expose-gc', '--enable-source-maps', script, ctx.env.nats.url, TARGET, manifestPath, videoPath,
    ctx.env.nats.auth.dir],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const replies: Array<(line: string) => void> = [];
  const lines = createInterface({ input: ctx.child.stdout! });
  const ready = new Promise<void>((resolve, reject) => {
    ctx.child.once('exit', (code) => reject(new Error(`target exited early (${code})`)));
    lines.once('line', () => resolve());
  });
  await ready;
  lines.on('line', (line) => replies.shift()?.(line));
  ctx.ask = () => new Promise<TargetStats>((resolve) => {
    replies.push((line) => resolve(JSON.parse(line) as TargetStats));
    ctx.child.stdin!.write('stats\n');
  });
});

t.after(async (ctx) => {
  await ctx.honest?.stop().catch(() => {});
  if (ctx.child && ctx.child.exitCode === null) {
    const exited = new Promise((r) => ctx.child.once('exit', r));
    ctx.child.stdin!.write('stop\n');
    await Promise.race([exited, sleep(5000)]);
    if (ctx.child.exitCode === null && ctx.child.pid) process.kill(ctx.child.pid, 'SIGKILL');
  }
  ctx.rtc?.shutdown();
  await ctx.env?.close();
});

/** A genuine offer, from a node-datachannel offerer whose signalling goes nowhere. */
function realOffer(rtc: RtcHost): Promise<string> {
  return new Promise((resolve, reject) => {
    const link = rtc.create({ role: 'offerer', remotePeerId: TARGET, connId: 'offer-source', videoId: 'x',
      sendSignal: async (m) => {
        if (m.kind !== 'offer') return;
        resolve(m.sdp!);
        setImmediate(() => link.close('offer captured'));
      },
      events: { onConnected() {}, onOpen() {}, onMessage() {}, onDrain() {},
        onClosed: (reason) => reject(new Error(`offer source closed: ${reason}`)) } });
  });
}

t('500 offer+bye pairs from one id: native connections stay bounded, are freed, RSS grows < 20 MB', async (ctx) => {
  const offerSdp = await realOffer(ctx.rtc);
  // the attacker is a stranger with an ordinary peer credential
  const { nc } = await ctx.env.connectPeer(ATTACKER);
  const attacker = createSignalClient(nc, ATTACKER, ctx.env.logger.child('attacker'));
  // a refused offer is answered `bye busy`, rate limited: the flood must not make the target a flooder
  let byes = 0;
  attacker.onSignal((m) => {
    if (m.kind === 'bye' && m.from === TARGET && m.reason === BUSY_REASON) byes++;
  });
  const videoId = ctx.manifest.videoId;
  const pair = async (connId: string) => {
    await attacker.send(TARGET, { kind: 'offer', connId, videoId, sdp: offerSdp });
    await attacker.send(TARGET, { kind: 'bye', connId, videoId, reason: 'flood' });
  };

  // warm-up: the first connections of a process set up libdatachannel's threads, certificate and OpenSSL
  for (let i = 0; i < 10; i++) {
    await pair(`warm${i}`);
    await sleep(20);
  }
  await waitFor(async () => (await ctx.ask()).allocated === 0, 'warm-up connections freed', 15000, 250);
  const before = await ctx.ask();

  let maxAllocated = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxAllocated = Math.max(maxAllocated, (await ctx.ask()).allocated);
      await sleep(100);
    }
  })();
  const started = performance.now();
  let refused = 0;
  for (let i = 0; i < PAIRS; i++) {
    await pair(`flood${i}`).catch(() => refused++);
    const due = started + ((i + 1) * 1000) / PAIRS_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const floodS = (performance.now() - started) / 1000;
  await sleep(500); // the last answers in flight
  sampling = false;
  await sampler;

  // settle: closed links are freed after their native close callbacks plus a grace
  const settled = await waitFor(async () => {
    const s = await ctx.ask();
    return s.allocated === 0 ? s : null;
  }, 'flood connections freed', 20000, 250);
  await sleep(1000);
  const after = await ctx.ask();
  const grewMb = after.rssMb - before.rssMb;
  console.log(`  flood: ${PAIRS} pairs in ${floodS.toFixed(1)} s (${refused} refused by the relay); target allocated max ` +
    `${maxAllocated} during, ${settled.allocated} after; RSS ${before.rssMb.toFixed(1)} → ${after.rssMb.toFixed(1)} MB ` +
    `(+${grewMb.toFixed(1)} MB); ${byes} busy answers`);
  assert.is(refused, 0, 'the attacker stayed under the relay rate limit');
  assert.ok(maxAllocated <= 4, `at most a few native connections at once during the flood (max ${maxAllocated})`);
  assert.ok(after.allocated <= 2, `allocated after settling: ${after.allocated}`);
  assert.is(after.live, 0);
  assert.ok(grewMb < 20, `target RSS grew ${grewMb.toFixed(1)} MB`);
  assert.ok(byes > 0, 'refused offers are answered');
  // 20 a second at most (refusals.ts), over the flood plus the settling second
  assert.ok(byes <= 20 * (Math.ceil(floodS) + 2), `${byes} busy answers in ${floodS.toFixed(1)} s`);

  // the target still accepts an honest peer
  const { nc: hnc } = await ctx.env.connectPeer('honestpeer');
  const count = ctx.manifest.chunks.length;
  ctx.honest = createPeerNode({ peerId: 'honestpeer', manifest: ctx.manifest, uploads: true }, { nc: hnc, rtc: ctx.rtc,
    logger: ctx.env.logger.child('honest'),
    source: { has: () => false, have: () => new Array<boolean>(count).fill(false), read: () => Promise.reject(new Error('none')) } });
  await ctx.honest.swarm.start();
  await waitFor(() => ctx.honest!.swarm.stats().links.some((l) => l.peerId === TARGET && l.state.includes('open')),
    'an open link from an honest peer to the target', 20000, 100);
});

t.run();
