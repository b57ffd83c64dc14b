/**
 * The hls.js side: a custom loader (hls.js `loader` / `pLoader` / `fLoader` config) that never touches the
 * network. The playlist is derived from the manifest (`hlsPlaylist`: every segment, and the init segment, a byte
 * range of one fMP4 file), and every init or media segment request is answered with that byte range from the
 * engine, verified chunk by chunk; asking for it is what makes the engine fetch those chunks first.
 */
import type { HlsConfig, Loader, LoaderContext } from 'hls.js';
import { chunksOfRange, hlsPlaylist } from '../protocol/mod.js';
import { localLoader, type LocalAnswer } from './localloader.js';
import type { PlayerSource } from './start.js';

/** The URLs the player is given; nothing is ever fetched from them. */
export interface StreamUrls {
  playlist: string;
  file: string;
}


/**
 * A loader class bound to one engine (or anything that reads like one: web/start.ts) and stream (hls.js
 * instantiates it per request).
 */
export function switchyardLoader(source: PlayerSource | Promise<PlayerSource>, urls: StreamUrls):
  new (config: HlsConfig) => Loader<LoaderContext> {
  // a promise lets a page attach the player (MediaSource set-up takes ~100 ms) before its manifest is checked
  const ready = Promise.resolve(source).then((engine) => {
    const stream = engine.manifest.stream;
    if (!stream) throw new TypeError(`${engine.manifest.videoId} has no stream: it cannot be played while it downloads`);
    return { engine, stream, playlist: hlsPlaylist(stream, urls.file) };
  });
  ready.catch(() => {}); // each load reports it

  const err = (code: number, text: string): LocalAnswer => ({ error: { code, text } });
  return localLoader(async ({ url: full, context, signal, firstByte }) => {
    const url = full.split('#')[0];
    const { engine, stream, playlist } = await ready;
    if (url === urls.playlist) return { data: playlist };
    if (url !== urls.file) return err(404, `not part of this stream: ${full}`);
    const start = context.rangeStart ?? 0;
    // hls.js's rangeEnd is exclusive
    const end = context.rangeEnd !== undefined && context.rangeEnd > 0 ? context.rangeEnd : engine.manifest.size;
    if (start < 0 || end > engine.manifest.size || end <= start) return err(416, `bad range ${start}-${end}`);
    // a media segment being fetched is where playback is heading: chunks behind it may go
    if (start > stream.init.offset + stream.init.length - 1) {
      engine.setPlayhead(chunksOfRange(engine.manifest.chunkSize, start, end - start).first);
    }
    const bytes = await engine.readRange(start, end - start, signal);
    firstByte();
    return { data: bytes.buffer as ArrayBuffer };
  });
}
