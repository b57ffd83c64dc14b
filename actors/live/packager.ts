/**
 * The live packager: runs ffmpeg on a live input and turns each segment, the moment ffmpeg renames it into
 * place, into a hashed, stored, announced part of the stream's sliding window. Order per segment: store the bytes,
 * write the window (`sy_live`), then announce on `sy.live.<id>.segment`, so a viewer that hears of a segment can
 * always fetch it. When the input ends (or `stop()`), the end is announced at once, the recording (init + every
 * segment, back to back: exactly the bytes viewers verified) becomes an ordinary streamable video, and the end is
 * announced again naming it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { KV } from '@nats-io/kv';
import {
  appendSegment, encode, LIVE_INDEX_SPACE, LIVE_PARTS, livePartRange, LiveEvents, MAX_LIVE_INIT_BYTES, MAX_LIVE_SEGMENT_BYTES, Subjects, toBase64,
  type LiveEnd, type LiveSegment, type LiveWindow, type Manifest,
} from '../../protocol/mod.js';
import { sha256Hex } from '../../lib/hash.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import type { ChunkStore } from '../../store/types.js';
import { ingestFile } from '../ingest/ingest.js';
import { codecsOf } from '../ingest/package.js';
import {
  INIT_FILE, LIVE_ENCODING_DEFAULTS, liveFfmpegArgs, parseLivePlaylist, PLAYLIST_FILE, segmentFile,
  type LiveEncoding, type LiveInput,
} from './ffmpeg.js';
import { openLiveBucket, putWindow } from './registry.js';
import { writeRecording } from './recording.js';

export interface LivePackagerInit {
  streamId: string;
  input: LiveInput;
  /** seconds of segments kept in the window (default 60) */
  dvrSec?: number;
  encoding?: Partial<LiveEncoding>;
  /** the stream's files (ffmpeg's output, the recording) go in a fresh directory under this one */
  workDir: string;
  /** name of the video the recording becomes (default the stream id) */
  name?: string;
  /** turn the recording into a video when the stream ends (default true) */
  record?: boolean;
  /** the ffmpeg program (default `ffmpeg`) */
  ffmpeg?: string;
}

export interface LivePackagerComponents {
  /** a service connection of the ingest role (or an operator's): only those may announce live segments */
  nc: NatsConnection;
  store: ChunkStore;
  /** publishes the recording's manifest to the catalog */
  publish(manifest: Manifest): Promise<unknown>;
  clock: Clock;
  logger: Logger;
}

export interface LivePackager {
  /** starts ffmpeg; resolves once it runs (segments follow as they are produced) */
  start(): Promise<void>;
  /** ends the stream (SIGTERM to ffmpeg: it finishes the current segment) and waits for the end */
  stop(): Promise<LiveEnd>;
  /** settles when the stream has ended and the recording is a video (or failed to become one) */
  readonly ended: Promise<LiveEnd>;
  /** the current window (null before the first segment) */
  window(): LiveWindow | null;
  /** called for every segment announced */
  onSegment(fn: (s: LiveSegment) => void): () => void;
}

export function createLivePackager(init: LivePackagerInit, c: LivePackagerComponents): LivePackager {
  const enc: LiveEncoding = { ...LIVE_ENCODING_DEFAULTS, ...init.encoding };
  const dvrSec = init.dvrSec ?? 60;
  const log = c.logger;
  const startedAt = c.clock.now();
  const dir = join(init.workDir, `${init.streamId}-${startedAt}`);
  const listeners = new Set<(s: LiveSegment) => void>();
  const all: LiveSegment[] = [];
  let kv: KV | null = null;
  let ff: ChildProcess | null = null;
  let watcher: FSWatcher | null = null;
  let poll: NodeJS.Timeout | null = null;
  let win: LiveWindow | null = null;
  let initBytes: Uint8Array | null = null;
  let hasAudio = false;
  let next = 0;
  let busy: Promise<void> = Promise.resolve();
  let exited = false;
  let stopping = false;
  let failure: string | null = null;
  let resolveEnded!: (e: LiveEnd) => void;
  const ended = new Promise<LiveEnd>((r) => (resolveEnded = r));
  // slid out of the window: deleted from the store once well behind it (a late viewer's fetch still finds them)
  const expiring: Array<{ hash: string; at: number }> = [];

  const announce = (w: LiveWindow) => putWindow(kv!, w);

  /** Takes whatever ffmpeg completed since the last look, in order. Serialized: one scan at a time. */
  const scan = () => {
    busy = busy.then(scanOnce).catch((err) => {
      failure ??= (err as Error).message;
      log.error('live packaging failed', { err });
      ff?.kill('SIGTERM');
    });
    return busy;
  };

  const scanOnce = async () => {
    if (!initBytes) {
      const bytes = await readFile(join(dir, INIT_FILE)).catch(() => null);
      if (!bytes || bytes.byteLength === 0) return;
      if (bytes.byteLength > MAX_LIVE_INIT_BYTES) throw new Error(`init segment of ${bytes.byteLength} bytes is too large`);
      initBytes = new Uint8Array(bytes);
    }
    let playlist: ReturnType<typeof parseLivePlaylist> | null = null;
    for (;;) {
      const file = join(dir, segmentFile(next));
      const size = await stat(file).then((s) => s.size, () => -1);
      if (size <= 0) return;
      playlist ??= parseLivePlaylist(await readFile(join(dir, PLAYLIST_FILE), 'utf8').catch(() => ''));
      const durationSec = playlist.durations.get(segmentFile(next));
      if (durationSec === undefined) {
        // renamed but not yet listed: the playlist follows within milliseconds (or at exit)
        if (!exited) return;
        playlist = parseLivePlaylist(await readFile(join(dir, PLAYLIST_FILE), 'utf8').catch(() => ''));
        if (!playlist.durations.has(segmentFile(next))) return;
        continue;
      }
      if (size > MAX_LIVE_SEGMENT_BYTES) throw new Error(`segment ${next} has ${size} bytes: lower the bit rate`);
      if (size < 64) throw new Error(`segment ${next} has only ${size} bytes`);
      const data = new Uint8Array(await readFile(file));
      await addSegment(data, durationSec);
    }
  };

  const addSegment = async (data: Uint8Array, durationSec: number) => {
    const sha256 = sha256Hex(data);
    await c.store.put(sha256, data);
    if (!win) {
      const initSha = sha256Hex(initBytes!);
      await c.store.put(initSha, initBytes!);
      const codecs = codecsOf(initBytes!, hasAudio);
      win = { streamId: init.streamId, rootHash: sha256Hex(new TextEncoder().encode(`${init.streamId}:${startedAt}:${initSha}`)),
        init: { sha256: initSha, length: initBytes!.byteLength }, initData: toBase64(initBytes!),
        ...(codecs ? { codecs } : {}), segmentSec: enc.segmentSec, startedAt, producedBytes: 0, dvrSec, segments: [] };
    }
    const parts = Array.from({ length: LIVE_PARTS }, (_, k) => {
      const r = livePartRange(data.byteLength, k);
      return sha256Hex(data.subarray(r.offset, r.offset + r.length));
    });
    const seg: LiveSegment = { streamId: init.streamId, seq: next, sha256, length: data.byteLength, parts, durationSec,
      producedAt: c.clock.now() };
    const before = new Set(win.segments.map((s) => s.sha256));
    win = appendSegment(win, seg);
    const kept = new Set(win.segments.map((s) => s.sha256));
    for (const h of before) if (!kept.has(h)) expiring.push({ hash: h, at: c.clock.now() + (dvrSec + 30) * 1000 });
    all.push(seg);
    next++;
    await announce(win);
    c.nc.publish(Subjects.live(init.streamId, LiveEvents.segment), encode(seg));
    for (const l of listeners) l(seg);
    while (expiring.length > 0 && expiring[0]!.at <= c.clock.now()) await c.store.delete(expiring.shift()!.hash);
    // the index space is the stream's length limit: end here, the recording keeps everything
    if (next >= LIVE_INDEX_SPACE) {
      stopping = true;
      ff?.kill('SIGTERM');
    }
  };

  const finish = async (): Promise<LiveEnd> => {
    await scan();
    const lastSeq = next - 1;
    const end: LiveEnd = { streamId: init.streamId, lastSeq };
    if (win) {
      win = { ...win, ended: {} };
      await announce(win).catch((err) => log.warn('could not write the ended window', { err }));
    }
    c.nc.publish(Subjects.live(init.streamId, LiveEvents.end), encode(end));
    if (failure) log.warn('the stream ended on an error', { reason: failure });
    if (!win || all.length === 0 || init.record === false) return end;
    try {
      const codecs = codecsOf(initBytes!, hasAudio);
      const rec = await writeRecording(join(dir, 'recording.mp4'), initBytes!,
        all.map((s) => ({ file: join(dir, segmentFile(s.seq)), ...s })), codecs);
      const { manifest } = await ingestFile({ path: rec.path, name: init.name ?? `${init.streamId}.mp4`, packaged: rec.stream },
        { store: c.store, publish: c.publish, logger: log.child('recording') });
      const done: LiveEnd = { ...end, videoId: manifest.videoId };
      win = { ...win, ended: { videoId: manifest.videoId } };
      await announce(win);
      c.nc.publish(Subjects.live(init.streamId, LiveEvents.end), encode(done));
      log.info('live stream recorded as a video', { streamId: init.streamId, videoId: manifest.videoId, segments: all.length });
      await rm(dir, { recursive: true, force: true });
      return done;
    } catch (err) {
      log.error('the recording could not become a video', { err });
      return end;
    }
  };

  return {
    ended,
    window: () => win,
    onSegment(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    async start() {
      await mkdir(dir, { recursive: true });
      kv = await openLiveBucket(c.nc);
      const { args, hasAudio: audio } = liveFfmpegArgs(init.input, dir, enc);
      hasAudio = audio;
      const child = spawn(init.ffmpeg ?? 'ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      ff = child;
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (err) => reject((err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(`${init.ffmpeg ?? 'ffmpeg'} is not installed`) : err));
      });
      // a rename in the directory is the signal; the poll covers events fs.watch may coalesce or miss
      watcher = watch(dir, () => void scan());
      watcher.on('error', () => {});
      poll = setInterval(() => void scan(), 100);
      child.once('exit', (code, signal) => {
        exited = true;
        // ffmpeg answers our SIGTERM with status 255 after finishing the segment: that is an end, not a failure
        if (code !== 0 && signal === null && !stopping) failure ??= `ffmpeg exited with ${code}: ${stderr.trim().split('\n').pop() ?? ''}`;
        watcher?.close();
        if (poll) clearInterval(poll);
        void finish().then(resolveEnded, (err) => {
          log.error('live end failed', { err });
          resolveEnded({ streamId: init.streamId, lastSeq: next - 1 });
        });
      });
      log.info('live stream started', { streamId: init.streamId, dir });
    },
    async stop() {
      stopping = true;
      if (ff && !exited) ff.kill('SIGTERM');
      return ended;
    },
  };
}

