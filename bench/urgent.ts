/**
 * bench:urgent — how long a seek waits for its urgent window when the client holds no origin slot: the origin is
 * full (capacity 1, held by another client that only heartbeats), and a streaming client jumps its playhead
 * around the file; each jump's urgent window comes under urgent grants from the gateway's reserved share.
 * Latency = setPlayhead → every chunk of the window verified on disk. Prints one JSON line.
 *   npm run -s bench:urgent -- [--share-bps 1048576] [--seeks 20] [--chunk-kib 256] [--gap-ms 600]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createOriginClient } from '../actors/origin/client.js';
import { runDownload } from '../client/download.js';
import { openPartial, partialDirFor } from '../client/partial.js';
import { startStack } from '../client/stack.js';
import { buildManifest, sha256Hex } from '../lib/hash.js';
import { createLogger } from '../lib/logger.js';

const { values } = parseArgs({ options: {
  'share-bps': { type: 'string' }, seeks: { type: 'string' }, 'chunk-kib': { type: 'string' }, 'gap-ms': { type: 'string' },
} });
const shareBps = Number(values['share-bps'] ?? 1024 * 1024);
const seeks = Number(values.seeks ?? 20);
const chunkSize = Number(values['chunk-kib'] ?? 256) * 1024;
/** time between seeks, as a viewer skipping around would leave */
const gapMs = Number(values['gap-ms'] ?? 600);
const COUNT = 64;
const WINDOW = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'sy-bench-urgent-'));
const stack = await startStack({ dataDir: join(dir, 'stack'), capacity: 1, idleMs: 0, urgentBps: shareBps },
  createLogger('bench', 'error'));
try {
  const bytes = new Uint8Array(randomBytes(COUNT * chunkSize));
  const chunks: string[] = [];
  for (let off = 0; off < bytes.byteLength; off += chunkSize) {
    const c = bytes.subarray(off, off + chunkSize);
    chunks.push(sha256Hex(c));
    await stack.store.put(sha256Hex(c), c);
  }
  const m = buildManifest({ name: 'bench.bin', mime: 'application/octet-stream', size: bytes.byteLength, chunkSize, chunks });
  await createOriginClient(stack.nc).publish(m);
  const holder = await stack.connectPeer({ label: 'holder' });
  const hOrigin = createOriginClient(holder.nc);
  const open = await hOrigin.open(m.videoId, holder.peerId);
  const beat = setInterval(() => void hOrigin.heartbeat(open.sessionId, holder.peerId).catch(() => {}), 1000);
  const viewer = await stack.connectPeer({ label: 'viewer' });
  const out = join(dir, 'out.bin');
  const partial = await openPartial(partialDirFor(out), m);
  const run = runDownload({ videoId: m.videoId, peerId: viewer.peerId, gateway: stack.gatewayUrl, outPath: out,
    streaming: { urgentChunks: WINDOW, bufferChunks: 2 * WINDOW } },
  { origin: createOriginClient(viewer.nc), partial, logger: createLogger('viewer', 'error') });
  while (!run.snapshot().hasTag('p2p')) await sleep(5);
  const have = () => run.snapshot().context.have;
  const lat: number[] = [];
  for (let k = 0; k < seeks; k++) {
    const p = (k * 7) % (COUNT - WINDOW);
    if (have()[p] && have()[p + 1]) continue;
    const t0 = performance.now();
    run.setPlayhead(p);
    while (!(have()[p] && have()[p + 1])) await sleep(1);
    lat.push(performance.now() - t0);
    await sleep(gapMs);
  }
  const slotless = run.snapshot().context.grant === null;
  run.cancel();
  await run.done;
  await partial.close();
  clearInterval(beat);
  lat.sort((a, b) => a - b);
  const q = (f: number) => Math.round(lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] ?? NaN);
  const st = stack.gateway.stats();
  process.stdout.write(`${JSON.stringify({
    bench: 'urgent', seeks: lat.length, window_chunks: WINDOW, chunk_bytes: chunkSize, urgent_share_bps: shareBps,
    seek_to_window_p50_ms: q(0.5), seek_to_window_p95_ms: q(0.95), seek_to_window_max_ms: q(1),
    urgent_bytes: st.urgentBytesTotal, urgent_refused: st.urgentRefusedTotal, held_no_slot: slotless,
  })}\n`);
} finally {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
