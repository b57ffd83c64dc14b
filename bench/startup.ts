/**
 * bench:startup — how fast the watch page shows video, in headless Debian Chromium on loopback:
 * - `slot_free`: the origin has free slots; the page plays from it under a grant;
 * - `p2p_only`: the origin is full (capacity 0); two headless seeders hold the video and the page plays from
 *   them over WebRTC (NATS WebSocket signalling, every chunk verified with WebCrypto).
 * Each run opens a new tab on `/watch/<id>`, times navigation start → the first rendered video frame
 * (requestVideoFrameCallback), lets it play a few seconds counting stalls, seeks to 80 % and times the first
 * frame there, then closes the tab. The first run of each scenario is cold (the bundle is not cached yet); the
 * percentiles include it. Prints one JSON line (design brief §6).
 *   npm run -s bench:startup -- [--runs 10] [--seconds 30] [--kbps 800] [--play-ms 2000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { ingestFile } from '../actors/ingest/ingest.js';
import { createOriginClient } from '../actors/origin/client.js';
import { generateSampleVideo } from '../client/media.js';
import { createPeerNode } from '../client/p2p/peer.js';
import { createRtcHost } from '../client/p2p/rtc.js';
import type { ChunkSource } from '../client/p2p/types.js';
import { startStack, type Stack } from '../client/stack.js';
import { launchBrowser, type BrowserHandle } from '../infra/chromium.js';
import { createLogger } from '../lib/logger.js';
import { streamDuration, type Manifest } from '../protocol/mod.js';
import { percentile } from './lib/metrics.js';

const { values } = parseArgs({ options: {
  runs: { type: 'string' }, seconds: { type: 'string' }, kbps: { type: 'string' }, 'play-ms': { type: 'string' },
} });
const runs = Math.max(1, Number(values.runs ?? 10));
const seconds = Number(values.seconds ?? 30);
const kbps = Number(values.kbps ?? 800);
const playMs = Number(values['play-ms'] ?? 2000);
const logger = createLogger('bench', 'error');

interface RunFigures {
  firstFrameMs: number; seekMs: number; stalls: number; fromPeers: number; fromOrigin: number;
  marks: Record<string, number>;
}

interface PageApi {
  error: string | null;
  firstFrameMs: number | null;
  stalls: number;
  seek(t: number): Promise<number>;
  status(): { bytesFromPeers: number; bytesFromOrigin: number } | null;
  marks: Record<string, number>;
}

// page.evaluate serialises its function: everything it uses must be inside it
async function firstFrame(page: Page, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await page.evaluate(() => {
      const api = (globalThis as unknown as { switchyard?: PageApi }).switchyard;
      return { frame: api?.firstFrameMs ?? null, error: api?.error ?? null };
    });
    if (s.frame !== null) return s.frame;
    if (s.error) throw new Error(`the page failed before its first frame: ${s.error}`);
    if (Date.now() > until) throw new Error('timed out waiting for the first frame');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function oneRun(browser: BrowserHandle, stack: Stack, m: Manifest, label: string): Promise<RunFigures> {
  const page = await browser.newPage();
  try {
    await page.goto(`${stack.gatewayUrl}/watch/${m.videoId}?label=${label}`);
    const firstFrameMs = await firstFrame(page, 30_000);
    await new Promise((r) => setTimeout(r, playMs));
    const target = 0.8 * streamDuration(m.stream!);
    const seekMs = await page.evaluate((t) => (globalThis as unknown as { switchyard: PageApi }).switchyard.seek(t), target);
    await new Promise((r) => setTimeout(r, playMs / 2));
    const s = await page.evaluate(() => {
      const api = (globalThis as unknown as { switchyard: PageApi }).switchyard;
      return { stalls: api.stalls, status: api.status(), marks: api.marks };
    });
    return { firstFrameMs, seekMs, stalls: s.stalls, fromPeers: s.status?.bytesFromPeers ?? 0,
      fromOrigin: s.status?.bytesFromOrigin ?? 0, marks: s.marks };
  } finally {
    await page.close();
  }
}

async function scenario(name: 'slot_free' | 'p2p_only', dir: string, video: string, browser: BrowserHandle) {
  const stack = await startStack({ dataDir: join(dir, name), capacity: name === 'slot_free' ? 64 : 0,
    leaseTtlMs: 3000, trackerIntervalMs: 1000 }, logger);
  const rtc = createRtcHost({ bindAddress: '127.0.0.1', logger });
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const origin = createOriginClient(stack.nc);
    const m = (await ingestFile({ path: video, chunkSize: 64 * 1024 }, { store: stack.store,
      publish: (x) => origin.publish(x), logger })).manifest;
    if (!m.stream) throw new Error('ingest did not package the sample for streaming');
    if (name === 'p2p_only') {
      const source: ChunkSource = {
        has: (i) => i >= 0 && i < m.chunks.length,
        read: (i) => stack.store.get(m.chunks[i]!),
        have: () => new Array<boolean>(m.chunks.length).fill(true),
      };
      for (const peerId of ['seedA', 'seedB']) {
        const { nc } = await stack.connectPeer({ peerId });
        const node = createPeerNode({ peerId, manifest: m, rechokeMs: 500 }, { nc, source, logger, rtc });
        await node.swarm.start();
        stops.push(async () => {
          await node.stop();
          await nc.close();
        });
      }
    }
    const figures: RunFigures[] = [];
    for (let i = 0; i < runs; i++) figures.push(await oneRun(browser, stack, m, `${name.replace('_', '')}${i}`));
    return { figures, manifest: m };
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
    await stack.stop();
    rtc.shutdown();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'sy-bench-startup-'));
const browser = await launchBrowser({ args: ['--autoplay-policy=no-user-gesture-required'] });
try {
  const video = join(dir, 'sample.mp4');
  await generateSampleVideo(video, { seconds, kbps });
  const free = await scenario('slot_free', dir, video, browser);
  const p2p = await scenario('p2p_only', dir, video, browser);
  const ff = (r: RunFigures[]) => r.map((x) => x.firstFrameMs);
  const sk = (r: RunFigures[]) => r.map((x) => x.seekMs);
  const m = free.manifest;
  const out = {
    runs,
    video: { seconds: streamDuration(m.stream!), bytes: m.size, bitrate_Bps: Math.round(m.size / streamDuration(m.stream!)),
      segments: m.stream!.segments.length, chunk_bytes: m.chunkSize },
    first_frame_ms_p50_slot_free: percentile(ff(free.figures), 50),
    first_frame_ms_p50_p2p_only: percentile(ff(p2p.figures), 50),
    first_frame_ms_p90_slot_free: percentile(ff(free.figures), 90),
    first_frame_ms_p90_p2p_only: percentile(ff(p2p.figures), 90),
    first_frame_ms_cold_slot_free: free.figures[0]!.firstFrameMs,
    seek_ms_p50_slot_free: percentile(sk(free.figures), 50),
    seek_ms_p50_p2p_only: percentile(sk(p2p.figures), 50),
    seek_ms_max: Math.max(...sk(free.figures), ...sk(p2p.figures)),
    stalls: [...free.figures, ...p2p.figures].reduce((a, x) => a + x.stalls, 0),
    p2p_only_bytes_from_origin: p2p.figures.reduce((a, x) => a + x.fromOrigin, 0),
    p2p_only_all_from_peers: p2p.figures.every((x) => x.fromPeers > 0 && x.fromOrigin === 0),
    // where the time goes (p50, ms from navigation start): the script runs, has its config, the engine is ready
    // (credential minted, NATS over WebSocket, manifest checked, session opened, swarm joined), hls.js parsed the
    // playlist, the first frame
    phases_ms_p50: Object.fromEntries((['slot_free', 'p2p_only'] as const).map((k) => {
      const f = k === 'slot_free' ? free.figures : p2p.figures;
      const at = (mark: string) => percentile(f.map((x) => (mark === 'scriptStart' ? 0 : x.marks.scriptStart!) +
        (x.marks[mark] ?? Number.NaN)), 50);
      return [k, { script: at('scriptStart'), config: at('config'), engine: at('engineReady'),
        playlist: at('manifestParsed'), first_frame: percentile(f.map((x) => x.firstFrameMs), 50) }];
    })),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
