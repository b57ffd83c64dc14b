/**
 * bench:peer-link — the peer data plane on loopback, all in this process:
 * 1. chunk throughput over ONE data channel with our wire format (request → piece blocks, backpressure,
 *    verification left out: it is the same for any transport), beside raw node-datachannel pushing the same
 *    bytes as 64 KiB messages in the same run (ratio = ours / raw);
 * 2. connection set-up time over the NATS signalling relay for 50 connections (offer → open, handshaken link),
 *    with our `a=setup:active` offer rewrite and, for comparison, libdatachannel's default roles (the ~1 s
 *    DTLS start race: see shared/notes/node-datachannel.md; `slow_*` counts set-ups over 500 ms).
 *   npm run -s bench:peer-link -- [--size-mib 64] [--connections 50]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PeerConnection, type DataChannel } from 'node-datachannel';
import { createSignalClient } from '../actors/signal/client.js';
import { createPeerNode } from '../client/p2p/peer.js';
import { createRtcHost, type RtcHost } from '../client/p2p/rtc.js';
import type { ChunkSource } from '../client/p2p/types.js';
import { startStack, type Stack } from '../client/stack.js';
import { createLogger } from '../lib/logger.js';
import { ServiceRoles, type Manifest } from '../protocol/mod.js';
import { buildManifest, sha256Hex } from '../lib/hash.js';

const { values } = parseArgs({ options: { 'size-mib': { type: 'string' }, connections: { type: 'string' } } });
const sizeMiB = Number(values['size-mib'] ?? 64);
const connections = Number(values.connections ?? 50);
const CHUNK = 256 * 1024;
const MB = 1e6;
const logger = createLogger('bench', 'error');

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

function memorySource(data: Buffer, m: Manifest): ChunkSource {
  return {
    has: () => true,
    have: () => new Array<boolean>(m.chunks.length).fill(true),
    read: async (i) => data.subarray(i * m.chunkSize, Math.min((i + 1) * m.chunkSize, data.byteLength)),
  };
}

/** Raw node-datachannel: one channel, the same bytes as 64 KiB messages, honouring bufferedAmount. */
async function rawThroughput(data: Buffer): Promise<number> {
  const a = new PeerConnection('rawA', { iceServers: [], bindAddress: '127.0.0.1' });
  const b = new PeerConnection('rawB', { iceServers: [], bindAddress: '127.0.0.1' });
  const keep: DataChannel[] = [];
  a.onLocalDescription((sdp, type) => b.setRemoteDescription(sdp, type));
  b.onLocalDescription((sdp, type) => a.setRemoteDescription(sdp, type));
  a.onLocalCandidate((c, mid) => { try { b.addRemoteCandidate(c, mid); } catch { /* before description */ } });
  b.onLocalCandidate((c, mid) => { try { a.addRemoteCandidate(c, mid); } catch { /* before description */ } });
  const received = new Promise<number>((resolve) => {
    b.onDataChannel((dc) => {
      keep.push(dc);
      let got = 0;
      let t0 = 0;
      dc.onMessage((m) => {
        if (t0 === 0) t0 = performance.now();
        got += (m as Buffer).byteLength;
        if (got >= data.byteLength) resolve(performance.now() - t0);
      });
    });
  });
  const dc = a.createDataChannel('raw');
  keep.push(dc);
  await new Promise<void>((r) => dc.onOpen(() => r()));
  const block = 64 * 1024;
  dc.setBufferedAmountLowThreshold(256 * 1024);
  let drained: (() => void) | null = null;
  dc.onBufferedAmountLow(() => drained?.());
  const t0 = performance.now();
  for (let off = 0; off < data.byteLength; off += block) {
    while (dc.bufferedAmount() > 1024 * 1024) await new Promise<void>((r) => (drained = r));
    dc.sendMessageBinary(data.subarray(off, Math.min(off + block, data.byteLength)));
  }
  await received;
  const ms = performance.now() - t0;
  dc.close();
  a.close();
  b.close();
  return data.byteLength / (ms / 1000) / MB;
}

async function oursThroughput(stack: Stack, rtc: RtcHost, data: Buffer, m: Manifest): Promise<number> {
  const { nc: ncA } = await stack.connectPeer({ peerId: 'benchseed' });
  const { nc: ncB } = await stack.connectPeer({ peerId: 'benchleech' });
  const seed = createPeerNode({ peerId: 'benchseed', manifest: m, uploadSlots: 4 }, { nc: ncA, source: memorySource(data, m), logger, rtc });
  const have = new Array<boolean>(m.chunks.length).fill(false);
  const leech = createPeerNode({ peerId: 'benchleech', manifest: m, uploads: false }, { nc: ncB, logger, rtc,
    source: { has: (i) => have[i] === true, have: () => have.slice(), read: async () => new Uint8Array(0) } });
  await seed.swarm.start();
  await leech.swarm.start();
  const ready = new Promise<void>((resolve) => {
    const unsub = leech.swarm.subscribe((e) => {
      if (e.type === 'peer.unchoked' && e.peerId === 'benchseed') {
        unsub();
        resolve();
      }
    });
  });
  await ready;
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < m.chunks.length) {
      const i = next++;
      const bytes = await leech.swarm.request('benchseed', i);
      have[i] = true;
      if (bytes.byteLength !== Math.min(m.chunkSize, m.size - i * m.chunkSize)) throw new Error('short chunk');
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]); // the download machine's per-peer pipeline depth
  const ms = performance.now() - t0;
  await leech.stop();
  await seed.stop();
  await ncA.close();
  await ncB.close();
  return m.size / (ms / 1000) / MB;
}

/**
 * Sequential connections over the relay, each timed from link creation to an open data channel. A set-up that
 * does not open within 10 s (the rare DTLS failure under CPU load, notes/node-datachannel.md) is counted in
 * `failures`, not timed, and the run goes on: one bad link must not void the other measurements.
 */
async function setupTimes(stack: Stack, rtc: RtcHost, count: number, activeSetup: boolean): Promise<number[] & { failures: number }> {
  // one connection speaks for both ends of every link here: a service credential (peers may speak only as themselves)
  const nc = await stack.connectService(ServiceRoles.admin, 'bench-setup');
  const times = Object.assign([] as number[], { failures: 0 });
  try {
    for (let i = 0; i < count; i++) {
      const a = createSignalClient(nc, `sa${i}${activeSetup ? 'x' : 'd'}`, logger);
      const b = createSignalClient(nc, `sb${i}${activeSetup ? 'x' : 'd'}`, logger);
      const connId = `c${i}`;
      const cleanups: Array<() => void> = [];
      const t0 = performance.now();
      const opened = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('set-up timed out')), 10000);
        const noop = () => {};
        const offerer = rtc.create({ role: 'offerer', remotePeerId: b.peerId, connId, videoId: 'vbench', activeSetup,
          sendSignal: (m) => a.send(b.peerId, m),
          events: { onConnected: noop, onMessage: noop, onDrain: noop, onClosed: noop,
            onOpen: () => { clearTimeout(timer); resolve(performance.now() - t0); } } });
        let answerer: ReturnType<RtcHost['create']> | null = null;
        const offB = b.onSignal((m) => {
          if (m.kind === 'offer' && !answerer) {
            answerer = rtc.create({ role: 'answerer', remotePeerId: a.peerId, connId, videoId: 'vbench',
              sendSignal: (x) => b.send(a.peerId, x),
              events: { onConnected: noop, onMessage: noop, onDrain: noop, onClosed: noop, onOpen: noop } });
          }
          answerer?.handleSignal(m);
        });
        const offA = a.onSignal((m) => offerer.handleSignal(m));
        cleanups.push(() => {
          offA();
          offB();
          offerer.close('bench done');
          answerer?.close('bench done');
        });
      });
      await nc.flush();
      try {
        times.push(await opened);
      } catch {
        times.failures++;
      } finally {
        for (const f of cleanups.splice(0)) f();
      }
    }
  } finally {
    await nc.close();
  }
  return times;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-peer-'));
  const stack = await startStack({ dataDir: dir, capacity: 0 }, logger);
  const rtc = createRtcHost({ bindAddress: '127.0.0.1', logger });
  try {
    const data = randomBytes(sizeMiB * 1024 * 1024);
    const chunks: string[] = [];
    for (let off = 0; off < data.byteLength; off += CHUNK) chunks.push(sha256Hex(data.subarray(off, off + CHUNK)));
    const m = buildManifest({ name: 'bench.bin', mime: 'application/octet-stream', size: data.byteLength, chunkSize: CHUNK, chunks });
    const raw = await rawThroughput(data);
    const ours = await oursThroughput(stack, rtc, data, m);
    const fast = await setupTimes(stack, rtc, connections, true);
    const slowRoles = await setupTimes(stack, rtc, connections, false);
    const over = (xs: number[]) => xs.filter((x) => x > 500).length;
    process.stdout.write(JSON.stringify({
      bench: 'peer-link', size_bytes: m.size, chunk_bytes: CHUNK, connections,
      chunk_MBps: r1(ours), raw_MBps: r1(raw), ratio: Math.round((ours / raw) * 100) / 100,
      setup_ms_p50: r1(pct(fast, 50)), setup_ms_p99: r1(pct(fast, 99)), slow_over_500ms: over(fast),
      setup_default_roles_ms_p50: r1(pct(slowRoles, 50)), setup_default_roles_ms_p99: r1(pct(slowRoles, 99)),
      slow_default_roles_over_500ms: over(slowRoles),
      setup_failures: fast.failures, setup_default_roles_failures: slowRoles.failures,
      setup_cause: 'libdatachannel DTLS start race: the early ClientHello waits for the 1 s retransmit; offers are sent with a=setup:active',
    }) + '\n');
  } finally {
    rtc.shutdown();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:peer-link failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
