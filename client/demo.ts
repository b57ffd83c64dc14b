/**
 * `switchyard demo` (the README's first command): a whole local Switchyard — NATS, origin (small capacity),
 * tracker, signalling relay, gateway with its dashboard — ingests a generated one-minute sample video through
 * `POST /videos`, and starts a flash crowd of real `switchyard get --seed` processes with emulated bandwidth
 * (origin egress u_s, each peer's upload u_i and download d). Clients beyond the capacity are denied and fetch
 * from each other over WebRTC; freed slots go to waiting clients, which resume from the origin. A terminal view
 * shows one bar per peer (mode, bytes by source); the summary table checks every download byte for byte.
 * Ctrl-C stops everything it started; `--hold` keeps the dashboard up after the summary until Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../lib/logger.js';
import {
  BadRequestError, decode, MAX_TELEMETRY_BYTES, OriginPolicies, PeerStatus, Subjects, type Manifest, type OriginPolicy,
} from '../protocol/mod.js';
import { waitForStop } from './commands/common.js';
import { createDemoView } from './demoview.js';
import { egressBound, fluidBounds } from '../lib/bounds.js';
import { generateSampleVideo } from './media.js';
import { startStack, type Stack } from './stack.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), 'cli.js');
const MiB = 1024 * 1024;

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(path)) h.update(b as Buffer);
  return h.digest('hex');
}

/** SHA-256 of the video as published (ingest packages it for streaming, so it is not the uploaded file). */
async function publishedSha256(stack: Stack, manifest: Manifest): Promise<string> {
  const h = createHash('sha256');
  for (const c of manifest.chunks) {
    const data = await stack.store.get(c);
    if (!data) throw new Error(`chunk ${c} of the published video is missing from the store`);
    h.update(data);
  }
  return h.digest('hex');
}

interface ClientRow {
  id: number;
  label: string;
  child: ChildProcess;
  /** the mode of every state entered, in order */
  modes: string[];
  firstPosition: number | null;
  finished: number | null;
  bytes: Record<string, number>;
  status: string;
  out: string;
  uploaded: number;
  /** when its download began (its first state): t0, unless its process was not up in time */
  startedAt?: number;
}

export interface DemoFlags {
  clients?: string; capacity?: string; seconds?: string; kbps?: string; policy?: string; 'origin-mibps'?: string;
  'peer-up-mibps'?: string; 'down-mibps'?: string; hold?: boolean;
}

// keyed by mode (the machine's state tags, carried by the CLI's `state` events), not by state name
const LABELS: Partial<Record<string, string>> = {
  server: 'granted a slot: fetching from the origin',
  p2p: 'p2p (origin full or slot passed on): fetching from peers',
  resumeServer: 'slot offered: resuming from the origin',
  complete: 'complete',
};
/** The modes a client switches between while downloading: the path the summary shows. */
const FETCH_MODES = new Set(['server', 'p2p', 'resumeServer']);

export async function demoCommand(flags: DemoFlags): Promise<number> {
  const clients = Number(flags.clients ?? 8);
  const capacity = Number(flags.capacity ?? 2);
  const seconds = Number(flags.seconds ?? 60);
  // ~22 MiB at the defaults: long enough that the crowd, not the clients' start-up, decides the distribution time
  const kbps = Number(flags.kbps ?? 3000);
  const policy = (flags.policy ?? OriginPolicies.swarmAware) as OriginPolicy;
  const us = Number(flags['origin-mibps'] ?? 2) * MiB;
  const ui = Number(flags['peer-up-mibps'] ?? 1) * MiB;
  const d = Number(flags['down-mibps'] ?? 4) * MiB;
  if (![clients, capacity, seconds, kbps].every((n) => Number.isInteger(n) && n > 0) || clients > 50) {
    throw new BadRequestError('--clients (1..50), --capacity, --seconds and --kbps must be positive integers');
  }
  if (!Object.values(OriginPolicies).includes(policy)) throw new BadRequestError('--policy is server-first or swarm-aware');
  if (![us, ui, d].every((x) => Number.isFinite(x) && x > 0)) throw new BadRequestError('rates must be positive MiB/s');
  const say = (s: string) => process.stdout.write(s + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
  const logger = createLogger('demo');
  const rows: ClientRow[] = [];
  let stack: Stack | null = null;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    for (const r of rows) r.child.kill('SIGTERM');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    say(`switchyard demo: ${clients} clients, origin capacity ${capacity} (${policy}), a ${seconds} s sample video`);
    say(`  emulated bandwidth: origin egress ${(us / MiB).toFixed(1)} MiB/s, each peer up ${(ui / MiB).toFixed(1)} MiB/s ` +
      `and down ${(d / MiB).toFixed(1)} MiB/s`);
    stack = await startStack({ dataDir: dir, capacity, policy, originRate: us, leaseTtlMs: 3000, trackerIntervalMs: 1000 }, logger);
    say(`  dashboard ${stack.gatewayUrl}/dashboard   (API docs ${stack.gatewayUrl}/docs, NATS ${stack.natsUrl})`);
    say(`  inspector ${stack.gatewayUrl}/inspector   (the clients' state machines, live)`);
    const video = join(dir, 'sample.mp4');
    await generateSampleVideo(video, { seconds, kbps });
    const upload = await fetch(`${stack.gatewayUrl}/videos?name=sample.mp4`, {
      method: 'POST', body: readFileSync(video),
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${stack.adminToken}` },
    });
    if (upload.status !== 201) throw new Error(`upload failed: ${upload.status} ${await upload.text()}`);
    const { manifest } = (await upload.json()) as { manifest: Manifest };
    const F = manifest.size;
    say(`  ingested ${manifest.name} through POST /videos: ${(F / MiB).toFixed(1)} MiB, ${manifest.chunks.length} chunks, ` +
      `${manifest.mime}${manifest.media?.durationSec ? `, ${manifest.media.durationSec.toFixed(0)} s` : ''}` +
      `${manifest.stream ? `, packaged for streaming (${manifest.stream.segments.length} HLS/CMAF segments)` : ''}`);
    say(`  fluid bound for these figures: D_p2p = ${(Math.max(F / us, F / d, (clients * F) / (us + clients * ui))).toFixed(1)} s ` +
      `(client-server alone: ${Math.max((clients * F) / us, F / d).toFixed(1)} s)\n`);

    const labels = Array.from({ length: clients }, (_, i) => `client ${i + 1}`);
    const view = createDemoView(labels);
    const byPeer = new Map<string, string>();
    const tele = stack.nc.subscribe(Subjects.telemetryAll, {
      callback: (_e, m) => {
        try {
          const s = decode(PeerStatus, m.data, { maxBytes: MAX_TELEMETRY_BYTES });
          // peer ids are `<label>-<random>`: the gateway assigns them, the demo chose only the label
          const label = byPeer.get(s.peerId.slice(0, s.peerId.indexOf('-')));
          if (label) view.update(label, s);
        } catch {
          /* not ours to judge here: the gateway's aggregator logs bad telemetry */
        }
      },
    });
    // a flash crowd: every client process prepares (boots, connects, fetches the manifest) and all start fetching
    // at t0 together; on one shared machine booting 8 processes takes seconds, which is not distribution time
    const t0 = Date.now() + 2000 + 700 * clients;
    const ms = (t: number) => `${((t - t0) / 1000).toFixed(1)} s`;
    say(`  the client processes start now and all begin fetching together in ${((t0 - Date.now()) / 1000).toFixed(1)} s (t = 0)`);
    for (let i = 1; i <= clients; i++) {
      const peerId = `democlient${i}`;
      const label = labels[i - 1]!;
      byPeer.set(peerId, label);
      const out = join(dir, `client-${i}.mp4`);
      const child = spawn(process.execPath, [CLI, 'get', manifest.videoId, '-o', out, '--json', '--seed',
        '--rate', String(d), '--up-rate', String(ui), '--bind', '127.0.0.1', '--nats', stack.natsUrl,
        '--gateway', stack.gatewayUrl, '--label', peerId, '--start-at', String(t0)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const row: ClientRow = { id: i, label, child, modes: [], firstPosition: null, finished: null, bytes: {},
        status: 'running', out, uploaded: 0 };
      rows.push(row);
      let buf = '';
      child.stdout!.on('data', (b: Buffer) => {
        buf += b.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let ev: { event?: string; state?: string; mode?: string; position?: number; status?: string;
            bytesBySource?: Record<string, number>; uploadedBytes?: number };
          try {
            ev = JSON.parse(line);
          } catch {
            continue;
          }
          if (ev.event === 'state' && ev.mode) {
            row.startedAt ??= Date.now();
            row.modes.push(ev.mode);
            const text = LABELS[ev.mode];
            if (text) view.say(`  [${ms(Date.now())}] ${label}: ${text}`);
          } else if (ev.event === 'position' && ev.position !== undefined) {
            row.firstPosition ??= ev.position;
          } else if (ev.event === 'done') {
            row.status = ev.status ?? 'unknown';
            row.bytes = ev.bytesBySource ?? {};
            row.finished = Date.now();
            // everyone is done: the seeders may leave
            if (rows.length === clients && rows.every((r) => r.finished !== null)) for (const r of rows) r.child.kill('SIGTERM');
          } else if (ev.event === 'seeded') {
            row.uploaded = ev.uploadedBytes ?? 0;
          }
        }
      });
    }
    await Promise.all(rows.map((r) => new Promise((res) => r.child.once('exit', res))));
    view.stop();
    tele.unsubscribe();
    if (interrupted) {
      say('\ninterrupted: stopped every client and service');
      return 130;
    }
    const allGood = await summary(rows, stack, manifest, manifest.size, await publishedSha256(stack, manifest), t0, say, {
      clients, us, ui, d, capacity });
    if (flags.hold) {
      say(`\nthe dashboard stays up at ${stack.gatewayUrl}/dashboard — Ctrl-C stops`);
      await waitForStop();
    }
    return allGood ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    for (const r of rows) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function summary(
  rows: ClientRow[], stack: Stack, manifest: Manifest, size: number, sourceHash: string, t0: number,
  say: (s: string) => void, p: { clients: number; us: number; ui: number; d: number; capacity: number },
): Promise<boolean> {
  const mib = (n: number) => `${(n / MiB).toFixed(2).padStart(6)} MiB`;
  say('\nclient     path                                 wait#  done at  from origin  from peers    uploaded  sha256');
  let allGood = true;
  let fromPeersTotal = 0;
  let last = 0;
  for (const r of rows) {
    const ok = r.status === 'complete' && (await sha256File(r.out).catch(() => '')) === sourceHash;
    allGood &&= ok;
    const modes = r.modes.filter((m) => FETCH_MODES.has(m)).filter((m, i, a) => i === 0 || a[i - 1] !== m);
    // slot rotation can switch a client many times: show the first two steps and the count
    const path = modes.length <= 3 ? modes.join(' → ') || '-' : `${modes.slice(0, 2).join(' → ')} … (${modes.length - 1} switches)`;
    const fromPeers = Object.entries(r.bytes).filter(([k]) => k.startsWith('peer:')).reduce((a, [, v]) => a + v, 0);
    fromPeersTotal += fromPeers;
    if (r.finished) last = Math.max(last, r.finished - t0);
    say(`${r.label.padEnd(11)}${(path.length > 36 ? path.slice(0, 35) + '…' : path).padEnd(37)}` +
      `${String(r.firstPosition ?? '-').padEnd(7)}${r.finished ? `${((r.finished - t0) / 1000).toFixed(1)} s`.padEnd(9) : 'failed   '}` +
      `${mib(r.bytes.origin ?? 0)}  ${mib(fromPeers)}  ${mib(r.uploaded)}  ${ok ? 'identical' : 'MISMATCH'}`);
  }
  const egress = stack.gateway.stats().chunkBytesTotal;
  const params = { N: p.clients, F: size, us: p.us, ui: p.ui, dmin: p.d };
  const dp2p = fluidBounds(params).D_p2p;
  const e = Math.max(1, egress / size);
  const dEgress = egressBound(params, e);
  say(`\norigin egress ${(egress / MiB).toFixed(1)} MiB = ${(egress / size).toFixed(2)} × the file for ${p.clients} clients ` +
    `(client-server alone would send ${p.clients}.00 ×); peers carried ${((100 * fromPeersTotal) / (p.clients * size)).toFixed(0)} % of all bytes`);
  say(`distribution time ${(last / 1000).toFixed(1)} s = ${(last / 1000 / dp2p).toFixed(2)} × the fluid bound D_p2p ` +
    `(${dp2p.toFixed(1)} s); at most ${p.capacity} clients held an origin slot at once`);
  // the bound that counts for what the origin actually sent: with e × F of egress the peers must carry the rest
  say(`  with ${e.toFixed(2)} × F from the origin no schedule can finish before ${dEgress.toFixed(1)} s ` +
    `(= ${(dEgress / dp2p).toFixed(2)} × D_p2p): this run took ${(last / 1000 / dEgress).toFixed(2)} × that`);
  const late = rows.filter((r) => (r.startedAt ?? Infinity) - t0 > 1000).length;
  if (late > 0) say(`  ${late} of ${p.clients} clients began more than 1 s after t = 0 (their processes were not up in time)`);
  say(allGood ? `all ${p.clients} downloads are byte-identical to the published video (${manifest.videoId})` : 'some downloads failed');
  return allGood;
}
