/**
 * bench:startup — how fast the watch page shows video, in headless Debian Chromium on loopback:
 * - `slot_free`: the origin has free slots; the page plays from it under a grant;
 * - `p2p_only`: the origin is full (capacity 0) and keeps no urgent share (so the page gets no start grant);
 *   two headless seeders hold the video and the page plays from them over WebRTC (NATS WebSocket signalling,
 *   every chunk verified with WebCrypto): every byte from peers;
 * - `origin_full`: as p2p_only, but the gateway keeps its default urgent share: the page's start grant fetches
 *   the first seconds from it, the peers bring the rest (how a full deployment behaves).
 * Each run opens a new tab on `/watch/<id>`, times navigation start → the first rendered video frame
 * (requestVideoFrameCallback), lets it play a few seconds counting stalls, seeks to 80 % and times the first
 * frame there, then closes the tab. The first run of each scenario is cold (the bundle is not cached yet); the
 * percentiles include it. Prints one JSON line (design brief §6).
 *   npm run -s bench:startup -- [--runs 10] [--seconds 30] [--kbps 800] [--play-ms 2000] [--only p2p_only,…]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  runs: { type: 'string' }, only: { type: 'string' }, 'print-steps': { type: 'boolean' }, 'cpu-profile': { type: 'string' }, seconds: { type: 'string' }, kbps: { type: 'string' }, 'play-ms': { type: 'string' },
} });
const runs = Math.max(1, Number(values.runs ?? 10));
const seconds = Number(values.seconds ?? 30);
const kbps = Number(values.kbps ?? 800);
const playMs = Number(values['play-ms'] ?? 2000);
const logger = createLogger('bench', 'error');

interface RunFigures {
  firstFrameMs: number; seekMs: number; stalls: number; fromPeers: number; fromOrigin: number;
  steps: Record<string, number>;
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

async function oneRun(browser: BrowserHandle, stack: Stack, m: Manifest, label: string, profileTo?: string): Promise<RunFigures> {
  const page = await browser.newPage();
  try {
    // --cpu-profile DIR: the page's main thread, navigation to first frame, of each scenario's last run
    // (DIR/<label>.cpuprofile, for Chromium's DevTools)
    const cdp = profileTo ? await page.context().newCDPSession(page) : null;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
      await cdp.send('Profiler.start');
    }
    await page.goto(`${stack.gatewayUrl}/watch/${m.videoId}?label=${label}`);
    const firstFrameMs = await firstFrame(page, 30_000);
    if (cdp && profileTo) {
      const { profile } = await cdp.send('Profiler.stop');
      writeFileSync(join(profileTo, `${label}.cpuprofile`), JSON.stringify(profile));
    }
    // the engine's User Timing marks (web/marks.ts), ms since navigation start
    // and the browser's own: page and bundle received, document parsed
    const steps = await page.evaluate(() => {
      const out: Record<string, number> = Object.fromEntries(performance.getEntriesByType('mark')
        .filter((e) => e.name.startsWith('sy:')).map((e) => [e.name.slice(3), Math.round(e.startTime)]));
      const nav = performance.getEntriesByType('navigation' as 'mark')[0] as unknown as { responseEnd: number; domInteractive: number } | undefined;
      if (nav) {
        out['page.received'] = Math.round(nav.responseEnd);
        out['page.interactive'] = Math.round(nav.domInteractive);
      }
      const js = performance.getEntriesByType('resource' as 'mark').find((e) => e.name.endsWith('.js'));
      if (js) out['bundle.received'] = Math.round((js as unknown as { responseEnd: number }).responseEnd);
      return out;
    });
    await new Promise((r) => setTimeout(r, playMs));
    const target = 0.8 * streamDuration(m.stream!);
    const seekMs = await page.evaluate((t) => (globalThis as unknown as { switchyard: PageApi }).switchyard.seek(t), target);
    await new Promise((r) => setTimeout(r, playMs / 2));
    const s = await page.evaluate(() => {
      const api = (globalThis as unknown as { switchyard: PageApi }).switchyard;
      return { stalls: api.stalls, status: api.status() };
    });
    // --print-steps: each run's start-up steps on stderr, in time order (stdout keeps its one JSON line)
    if (values['print-steps']) {
      process.stderr.write(`${label} ${Object.entries(steps).sort((a, b) => a[1] - b[1]).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
    }
    return { firstFrameMs, seekMs, stalls: s.stalls, fromPeers: s.status?.bytesFromPeers ?? 0,
      fromOrigin: s.status?.bytesFromOrigin ?? 0, steps };
  } finally {
    await page.close();
  }
}

type Scenario = 'slot_free' | 'p2p_only' | 'origin_full';

async function scenario(name: Scenario, dir: string, video: string, browser: BrowserHandle) {
  // p2p_only: no slot and no urgent share either (no start grant, no urgent chunk): every byte from the peers
  const stack = await startStack({ dataDir: join(dir, name), capacity: name === 'slot_free' ? 64 : 0,
    leaseTtlMs: 3000, trackerIntervalMs: 1000, ...(name === 'p2p_only' ? { urgentBps: 0 } : {}) }, logger);
  const rtc = createRtcHost({ bindAddress: '127.0.0.1', logger });
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const origin = createOriginClient(stack.nc);
    const m = (await ingestFile({ path: video, chunkSize: 64 * 1024 }, { store: stack.store,
      publish: (x) => origin.publish(x), logger })).manifest;
    if (!m.stream) throw new Error('ingest did not package the sample for streaming');
    if (name !== 'slot_free') {
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
    for (let i = 0; i < runs; i++) {
      const profileTo = i === runs - 1 ? values['cpu-profile'] : undefined;
      figures.push(await oneRun(browser, stack, m, `${name.replace('_', '')}${i}`, profileTo));
    }
    return { figures, manifest: m as Manifest | null };
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
  const all = {} as Record<Scenario, Awaited<ReturnType<typeof scenario>>>;
  // --only p2p_only: one scenario (the others then repeat its figures' absence as null)
  const only = values.only?.split(',');
  for (const name of ['slot_free', 'p2p_only', 'origin_full'] as const) {
    all[name] = only && !only.includes(name) ? { figures: [], manifest: null } : await scenario(name, dir, video, browser);
  }
  const free = all.slot_free;
  const p2p = all.p2p_only;
  const full = all.origin_full;
  const ff = (r: RunFigures[]) => r.map((x) => x.firstFrameMs);
  const sk = (r: RunFigures[]) => r.map((x) => x.seekMs);
  const m = (free.manifest ?? p2p.manifest ?? full.manifest)!;
  const everyRun = [...free.figures, ...p2p.figures, ...full.figures];
  const out = {
    runs,
    video: { seconds: streamDuration(m.stream!), bytes: m.size, bitrate_Bps: Math.round(m.size / streamDuration(m.stream!)),
      segments: m.stream!.segments.length, chunk_bytes: m.chunkSize },
    first_frame_ms_p50_slot_free: percentile(ff(free.figures), 50),
    first_frame_ms_p50_p2p_only: percentile(ff(p2p.figures), 50),
    // the origin full but keeping its urgent share: the start grant's chunks come from it, the rest from peers
    first_frame_ms_p50_origin_full: percentile(ff(full.figures), 50),
    first_frame_ms_p90_slot_free: percentile(ff(free.figures), 90),
    first_frame_ms_p90_p2p_only: percentile(ff(p2p.figures), 90),
    first_frame_ms_p90_origin_full: percentile(ff(full.figures), 90),
    first_frame_ms_cold_slot_free: free.figures[0]?.firstFrameMs ?? null,
    seek_ms_p50_slot_free: percentile(sk(free.figures), 50),
    seek_ms_p50_p2p_only: percentile(sk(p2p.figures), 50),
    seek_ms_p50_origin_full: percentile(sk(full.figures), 50),
    seek_ms_max: Math.max(...everyRun.map((x) => x.seekMs)),
    stalls: everyRun.reduce((a, x) => a + x.stalls, 0),
    p2p_only_bytes_from_origin: p2p.figures.reduce((a, x) => a + x.fromOrigin, 0),
    p2p_only_all_from_peers: p2p.figures.every((x) => x.fromPeers > 0 && x.fromOrigin === 0),
    origin_full_bytes_from_origin_p50: percentile(full.figures.map((x) => x.fromOrigin), 50),
    origin_full_bytes_from_peers_p50: percentile(full.figures.map((x) => x.fromPeers), 50),
    // every start-up step the page marked (web/marks.ts) and the browser's own, p50 ms from navigation start
    steps_ms_p50: Object.fromEntries((Object.keys(all) as Scenario[]).map((k) => {
      const f = all[k].figures;
      const names = [...new Set(f.flatMap((x) => Object.keys(x.steps)))];
      const p50 = names.map((n) => [n, percentile(f.filter((x) => n in x.steps).map((x) => x.steps[n]!), 50)] as const);
      return [k, Object.fromEntries(p50.sort((a, b) => a[1] - b[1]))];
    })),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
