/**
 * Shared set-up of the watch suites: a whole stack (real nats-server with its WebSocket listener, origin, tracker,
 * relay, gateway serving the bundled browser peer), headless seeders (node-datachannel on 127.0.0.1) and Debian's
 * Chromium opening the watch page. The page's state is read through `window.switchyard` (web/watch.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { createPeerNode, type PeerNode } from '../../client/p2p/peer.js';
import { createRtcHost, type RtcHost } from '../../client/p2p/rtc.js';
import type { ChunkSource } from '../../client/p2p/types.js';
import { startStack, type Stack, type StackOptions } from '../../client/stack.js';
import { createLogger } from '../../lib/logger.js';
import type { Manifest } from '../../protocol/mod.js';
import { launchBrowser, type BrowserHandle } from '../helpers/browser.js';

export const logger = createLogger('watch-test');
export const MiB = 1024 * 1024;

/** Flags for the watch page: autoplay without a gesture (the brief's Chromium note). */
export const WATCH_ARGS = ['--autoplay-policy=no-user-gesture-required'] as const;

/**
 * `window.switchyard.status()` (web/engine.ts WebEngineStatus plus the video's time), restated here: the test
 * program is compiled for Node and does not include web/.
 */
export interface PageStatus {
  peerId: string;
  state: string;
  mode: string;
  complete: boolean;
  chunkCount: number;
  haveCount: number;
  verifiedChunks: number;
  corruptChunks: number;
  bytesFromOrigin: number;
  bytesFromPeers: number;
  bytesByPeer: Record<string, number>;
  peers: number;
  linked: string[];
  uploadedBytes: number;
  heldBytes: number;
  heldChunks: number;
  evictedChunks: number;
  banned: string[];
  error: string | null;
  currentTime: number;
  playing: boolean;
  media: MediaStateView;
  /** hls.js's last non-fatal errors */
  playerWarnings: string[];
}

/** web/mediastate.ts MediaState: the video element's own state */
export interface MediaStateView {
  readyState: number;
  networkState: number;
  buffered: Array<[number, number]>;
  error: number | null;
  seeking: boolean;
}

interface PageApi {
  error: string | null;
  status(): PageStatus | null;
  marks: Record<string, number | undefined>;
  readBase64(offset: number, length: number): Promise<string>;
}


export interface WatchEnv {
  dir: string;
  stack: Stack;
  rtc: RtcHost;
  browser: BrowserHandle | null;
  stops: Array<() => Promise<unknown>>;
}

export async function startWatchEnv(opts: Partial<StackOptions> = {}): Promise<WatchEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-watch-'));
  const stack = await startStack({ dataDir: join(dir, 'stack'), capacity: 0, leaseTtlMs: 3000, trackerIntervalMs: 1000,
    ...opts }, logger);
  return { dir, stack, rtc: createRtcHost({ bindAddress: '127.0.0.1', logger }), browser: null, stops: [] };
}

export async function stopWatchEnv(env: WatchEnv): Promise<void> {
  await env.browser?.close();
  for (const s of env.stops.splice(0).reverse()) await s().catch(() => {});
  await env.stack.stop();
  env.rtc.shutdown();
  rmSync(env.dir, { recursive: true, force: true });
}

export async function ingest(env: WatchEnv, path: string, opts: { chunkSize?: number } = {}): Promise<Manifest> {
  const origin = createOriginClient(env.stack.nc);
  return (await ingestFile({ path, ...opts }, { store: env.stack.store, publish: (m) => origin.publish(m), logger })).manifest;
}

/** A headless peer serving `source` (a seeder, or a liar), on the env's RTC host. */
export async function startHeadlessPeer(env: WatchEnv, peerId: string, manifest: Manifest, source: ChunkSource,
  opts: { uploadRate?: number } = {}): Promise<PeerNode> {
  const { nc } = await env.stack.connectPeer({ peerId });
  const node = createPeerNode({ peerId, manifest, rechokeMs: 500, ...(opts.uploadRate ? { uploadRate: opts.uploadRate } : {}) },
    { nc, source, logger, rtc: env.rtc });
  await node.swarm.start();
  env.stops.push(async () => {
    await node.stop();
    await nc.close();
  });
  return node;
}

/** Opens the watch page in a fresh Chromium; console errors are printed (diagnostics). */
export async function openWatchPage(env: WatchEnv, videoId: string, query = '',
  /** runs on the new tab before it navigates (routes, request counters) */
  beforeGoto?: (page: Page) => Promise<void>): Promise<Page> {
  env.browser ??= await launchBrowser({ args: WATCH_ARGS });
  const page = await env.browser.newPage();
  await beforeGoto?.(page);
  page.on('console', (m) => {
    // the browser's own note on a missing favicon is noise; everything the page logs is shown
    if (m.text().startsWith('Failed to load resource')) return;
    if (m.type() === 'error' || m.type() === 'warning' || process.env.SWITCHYARD_LOG) console.log(`  [page] ${m.text()}`);
  });
  page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) console.log(`  [page] HTTP ${r.status()} ${r.url()}`);
  });
  await page.goto(`${env.stack.gatewayUrl}/watch/${videoId}${query}`);
  return page;
}

export async function pageStatus(page: Page): Promise<PageStatus | null> {
  return page.evaluate(() => (globalThis as unknown as { switchyard?: PageApi }).switchyard?.status() ?? null);
}

/** Polls the page until `pred` holds; throws with the page's last status (and error) after `timeoutMs`. */
export async function waitForPage(page: Page, pred: (s: PageStatus) => boolean, what: string, timeoutMs = 60_000):
  Promise<PageStatus> {
  const until = Date.now() + timeoutMs;
  let last: PageStatus | null = null;
  for (;;) {
    const error = await page.evaluate(() => (globalThis as unknown as { switchyard?: PageApi }).switchyard?.error ?? null);
    if (error) throw new Error(`page failed while waiting for ${what}: ${error}`);
    last = await pageStatus(page);
    if (last && pred(last)) return last;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The file's bytes as the page holds them (verified chunks), decoded from base64. */
export async function pageBytes(page: Page, offset: number, length: number): Promise<Buffer> {
  const b64 = await page.evaluate(([o, l]) => (globalThis as unknown as { switchyard: PageApi }).switchyard.readBase64(o!, l!),
    [offset, length]);
  return Buffer.from(b64, 'base64');
}

/** The page's milestones (ms since it started): engineReady, playing, passed5s, complete, currentTimeAtComplete. */
export async function pageMarks(page: Page): Promise<Record<string, number | undefined>> {
  return page.evaluate(() => (globalThis as unknown as { switchyard: PageApi }).switchyard.marks);
}

/** Serves the published chunks straight from the stack's store (what a complete seeder holds). */
export function storeSource(env: WatchEnv, manifest: Manifest): ChunkSource {
  return {
    has: (i) => i >= 0 && i < manifest.chunks.length,
    read: (i) => env.stack.store.get(manifest.chunks[i]!),
    have: () => new Array<boolean>(manifest.chunks.length).fill(true),
  };
}

/**
 * `window.switchyard.status()` of a live stream's page (web/livepage.ts LiveWatchStatus), restated for the same
 * reason as PageStatus.
 */
export interface LivePageStatus {
  live: true;
  streamId: string;
  peerId: string;
  mode: string;
  currentTime: number;
  paused: boolean;
  playing: boolean;
  playbackRate: number;
  stalls: number;
  stalledMs: number;
  skips: number;
  latencyMs: number | null;
  hlsLatencyMs: number | null;
  targetLatencyMs: number;
  joinSeq: number | null;
  seq: number | null;
  edgeSeq: number | null;
  heldSegments: number;
  segmentsVerified: number;
  corrupt: number;
  bytesFromOrigin: number;
  bytesFromUrgent: number;
  bytesFromPeers: number;
  admitted: boolean;
  peers: number;
  linked: string[];
  uploadedBytes: number;
  banned: string[];
  ended: boolean;
  error: string | null;
  media: MediaStateView;
  /** hls.js's last non-fatal errors */
  playerWarnings: string[];
}

/** A live page's status (null before its viewer started); throws when the page reported an error. */
export async function livePageStatus(page: Page): Promise<LivePageStatus | null> {
  const [error, status] = await page.evaluate(() => {
    const api = (globalThis as unknown as { switchyard?: { error: string | null; status(): unknown } }).switchyard;
    return [api?.error ?? null, api?.status() ?? null] as const;
  });
  if (error) throw new Error(`the live page failed: ${error}`);
  return status as LivePageStatus | null;
}
