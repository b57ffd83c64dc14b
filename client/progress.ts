/**
 * Terminal progress: one line, redrawn in place, only when stderr is a terminal (pipes and CI logs get no
 * carriage-return noise). Shows fraction, bytes, rate, the machine's state and bytes by source.
 */
import type { DownloadProgress } from './download.js';

const MiB = 1024 * 1024;

export interface ProgressBar {
  update(p: DownloadProgress): void;
  done(): void;
}

export function createProgressBar(totalBytes: number, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  const enabled = stream.isTTY === true;
  const started = Date.now();
  let lastDraw = 0;
  let lastLine = '';
  const draw = (p: DownloadProgress, force: boolean) => {
    if (!enabled) return;
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const frac = p.chunkCount ? p.haveCount / p.chunkCount : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const fetched = Object.values(p.bytesBySource).reduce((a, b) => a + b, 0);
    const rate = fetched / Math.max(0.001, (now - started) / 1000) / MiB;
    const sources = Object.entries(p.bytesBySource).map(([k, v]) => `${k} ${(v / MiB).toFixed(1)}`).join(' ');
    const waiting = p.position !== null && p.state.endsWith('p2p') ? ` (wait #${p.position})` : '';
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ` +
      `${((frac * totalBytes) / MiB).toFixed(1)}/${(totalBytes / MiB).toFixed(1)} MiB ${rate.toFixed(1)} MiB/s ` +
      `${p.state}${waiting}${sources ? ' | ' + sources : ''}`;
    if (line === lastLine) return;
    lastLine = line;
    stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 120) - 1)}`);
  };
  let last: DownloadProgress | null = null;
  return {
    update(p) {
      last = p;
      draw(p, false);
    },
    done() {
      if (last) draw(last, true);
      if (enabled) stream.write('\n');
    },
  };
}
