/**
 * The demo's terminal view: one line per peer (progress bar, mode, bytes by source), redrawn in place on a
 * terminal from the clients' telemetry; on a pipe (CI logs) a compact status line every few seconds instead.
 */
import type { PeerStatus } from '../protocol/mod.js';

const MiB = 1024 * 1024;
const COLORS: Record<string, string> = {
  server: '\x1b[34m', p2p: '\x1b[35m', resumeServer: '\x1b[36m', seeding: '\x1b[32m', complete: '\x1b[32m',
  failed: '\x1b[31m', opening: '\x1b[90m', assembling: '\x1b[33m',
};
const RESET = '\x1b[0m';

export interface PeerView {
  label: string;
  status: PeerStatus | null;
}

export function peerLine(v: PeerView, color: boolean): string {
  const s = v.status;
  if (!s) return `${v.label.padEnd(10)} [${'·'.repeat(24)}]   0%  waiting for first report`;
  const frac = s.haveCount / s.chunkCount;
  const filled = Math.round(frac * 24);
  const origin = s.bytesBySource.origin ?? 0;
  const peers = Object.entries(s.bytesBySource).filter(([k]) => k.startsWith('peer:')).reduce((a, [, b]) => a + b, 0);
  const mode = s.mode + (s.position !== null && s.mode === 'p2p' ? ` #${s.position}` : '');
  const modeText = color ? `${COLORS[s.mode] ?? ''}${mode.padEnd(14)}${RESET}` : mode.padEnd(14);
  return `${v.label.padEnd(10)} [${'#'.repeat(filled)}${'.'.repeat(24 - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%  ` +
    `${modeText} origin ${(origin / MiB).toFixed(1).padStart(5)} MiB  peers ${(peers / MiB).toFixed(1).padStart(5)} MiB  ` +
    `up ${(s.uploadedBytes / MiB).toFixed(1).padStart(5)} MiB  links ${s.links}`;
}

export interface DemoView {
  update(label: string, s: PeerStatus): void;
  say(line: string): void;
  stop(): void;
}

export function createDemoView(labels: string[], out: NodeJS.WriteStream = process.stdout): DemoView {
  const tty = out.isTTY === true;
  const views = new Map<string, PeerView>(labels.map((l) => [l, { label: l, status: null }]));
  let drawn = 0;
  const draw = () => {
    if (!tty) return;
    if (drawn > 0) out.write(`\x1b[${drawn}A`);
    for (const v of views.values()) out.write(`\r\x1b[2K${peerLine(v, true).slice(0, (out.columns ?? 160) - 1)}\n`);
    drawn = views.size;
  };
  const timer = setInterval(() => {
    if (tty) return draw();
    const parts = [...views.values()].map((v) => v.status
      ? `${v.label}:${v.status.mode}:${Math.round((100 * v.status.haveCount) / v.status.chunkCount)}%` : `${v.label}:-`);
    out.write(`  status ${parts.join(' ')}\n`);
  }, tty ? 200 : 3000);
  timer.unref();
  return {
    update(label, s) {
      const v = views.get(label);
      if (v) v.status = s;
    },
    say(line) {
      // lines printed while the bars are up go above them
      if (tty && drawn > 0) {
        out.write(`\x1b[${drawn}A\r\x1b[2K${line}\n`);
        drawn = 0;
        draw();
      } else out.write(line + '\n');
    },
    stop() {
      clearInterval(timer);
      draw();
    },
  };
}
