/** Sample media for demos, tests and benchmarks, generated with the Debian ffmpeg (no downloads). */
import { execFile } from 'node:child_process';

export interface SampleVideoOptions {
  seconds?: number;
  width?: number;
  height?: number;
  /** video bit rate in kbit/s: sets the file size (≈ seconds × kbps / 8 KB) */
  kbps?: number;
}

/** Writes an H.264/AAC MP4 of ffmpeg's `testsrc` pattern with a tone, fragmented for streaming. */
export function generateSampleVideo(path: string, o: SampleVideoOptions = {}): Promise<void> {
  const seconds = o.seconds ?? 10;
  const size = `${o.width ?? 640}x${o.height ?? 360}`;
  const kbps = o.kbps ?? 2000;
  // file protocol only, like every ffmpeg/ffprobe run here (lavfi sources are filters, not protocols)
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-protocol_whitelist', 'file',
    '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-b:v', `${kbps}k`, '-minrate', `${kbps}k`,
    '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`, '-x264-params', 'nal-hrd=cbr',
    '-c:a', 'aac', '-b:a', '64k', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', `file:${path}`];
  return new Promise((resolve, reject) => {
    execFile('ffmpeg', args, { timeout: 120000 }, (err, _out, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new Error('ffmpeg is not installed: run `bash infra/setup.sh` as root (apt-get install ffmpeg)'));
      }
      reject(new Error(`ffmpeg failed: ${stderr || err.message}`));
    });
  });
}
