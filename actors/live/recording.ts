/**
 * A live stream's recording: the init segment and every segment back to back in one file, which is exactly the
 * single-file HLS/CMAF layout ingest produces for a video (init at offset 0, segments in order), so the recording
 * becomes a streamable video without re-encoding or re-muxing, and its bytes are the ones viewers verified live.
 */
import { open, readFile } from 'node:fs/promises';
import { sha256Hex } from '../../lib/hash.js';
import { streamInconsistency, type LiveSegment, type StreamInfo } from '../../protocol/mod.js';

export interface RecordedSegment extends Pick<LiveSegment, 'seq' | 'sha256' | 'length' | 'durationSec'> {
  /** where the packager kept its bytes */
  file: string;
}

/** Writes the recording to `path` (each segment re-checked against its announced hash) and describes it. */
export async function writeRecording(path: string, init: Uint8Array, segments: RecordedSegment[], codecs?: string):
  Promise<{ path: string; stream: StreamInfo; size: number }> {
  const fh = await open(path, 'w');
  let offset = 0;
  const out: StreamInfo['segments'] = [];
  try {
    await fh.write(init, 0, init.byteLength, 0);
    offset = init.byteLength;
    for (const s of segments) {
      const data = await readFile(s.file);
      if (data.byteLength !== s.length || sha256Hex(data) !== s.sha256) {
        throw new Error(`segment ${s.seq} changed on disk since it was announced`);
      }
      await fh.write(data, 0, data.byteLength, offset);
      out.push({ offset, length: data.byteLength, durationSec: s.durationSec });
      offset += data.byteLength;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  const longest = Math.max(...out.map((s) => s.durationSec));
  const stream: StreamInfo = { format: 'hls-cmaf', targetDurationSec: Math.max(1, Math.ceil(longest)),
    init: { offset: 0, length: init.byteLength }, segments: out, ...(codecs ? { codecs } : {}) };
  const why = streamInconsistency(stream, offset);
  if (why) throw new Error(`recording is inconsistent: ${why}`);
  return { path, stream, size: offset };
}
