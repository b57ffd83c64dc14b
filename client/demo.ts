/**
 * `switchyard demo` (the README's first command): a whole local Switchyard with an origin of small capacity,
 * a generated sample video uploaded through the gateway, and a crowd of real `switchyard get --seed` processes
 * started together. Clients beyond the capacity are denied and fetch from each other over WebRTC; when a slot
 * frees, the longest-waiting one resumes from the origin. Every client keeps seeding until all are done. Ends
 * with a table per client and checks every download byte for byte. Ctrl-C stops everything it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../lib/logger.js';
import { BadRequestError, type Manifest } from '../protocol/mod.js';
import { generateSampleVideo } from './media.js';
import { startStack } from './stack.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), 'cli.js');
const MiB = 1024 * 1024;

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(path)) h.update(b as Buffer);
  return h.digest('hex');
}

interface ClientRow {
  id: number;
  child: ChildProcess;
  states: string[];
  firstPosition: number | null;
  started: number;
  finished: number | null;
  bytes: Record<string, number>;
  status: string;
  out: string;
  uploaded: number;
}

export async function demoCommand(flags: { clients?: string; capacity?: string; seconds?: string }): Promise<number> {
  const clients = Number(flags.clients ?? 5);
  const capacity = Number(flags.capacity ?? 2);
  const seconds = Number(flags.seconds ?? 20);
  if (![clients, capacity, seconds].every((n) => Number.isInteger(n) && n > 0) || clients > 50) {
    throw new BadRequestError('--clients (1..50), --capacity and --seconds must be positive integers');
  }
  const say = (s: string) => process.stdout.write(s + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
  const logger = createLogger('demo');
  const rows: ClientRow[] = [];
  let stack: Awaited<ReturnType<typeof startStack>> | null = null;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    for (const r of rows) r.child.kill('SIGTERM');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    say(`switchyard demo: origin capacity ${capacity}, ${clients} clients, a ${seconds} s sample video`);
    stack = await startStack({ dataDir: dir, capacity, leaseTtlMs: 3000 }, logger);
    say(`  NATS ${stack.natsUrl} · gateway ${stack.gatewayUrl} (API docs ${stack.gatewayUrl}/docs)`);
    const video = join(dir, 'sample.mp4');
    await generateSampleVideo(video, { seconds, kbps: 2000 });
    const upload = await fetch(`${stack.gatewayUrl}/videos?name=sample.mp4`, {
      method: 'POST', body: readFileSync(video),
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${stack.adminToken}` },
    });
    if (upload.status !== 201) throw new Error(`upload failed: ${upload.status} ${await upload.text()}`);
    const { manifest } = (await upload.json()) as { manifest: Manifest };
    say(`  ingested ${manifest.name} through POST /videos: ${(manifest.size / MiB).toFixed(1)} MiB, ` +
      `${manifest.chunks.length} chunks, ${manifest.mime}, id ${manifest.videoId}`);
    // Each client downloads at a limited rate so sessions overlap and the wait list is visible.
    const rate = Math.max(256 * 1024, Math.ceil(manifest.size / 2));
    say(`  starting ${clients} clients at once (each limited to ${(rate / MiB).toFixed(1)} MiB/s down); ` +
      `denied ones fetch from each other over WebRTC…\n`);
    const t0 = Date.now();
    const ms = (t: number) => `${((t - t0) / 1000).toFixed(1)} s`;
    for (let i = 1; i <= clients; i++) {
      const out = join(dir, `client-${i}.mp4`);
      const child = spawn(process.execPath, [CLI, 'get', manifest.videoId, '-o', out, '--json', '--rate', String(rate),
        '--seed', '--bind', '127.0.0.1', '--nats', stack.natsUrl, '--gateway', stack.gatewayUrl, '--peer-id', `demo-client-${i}`],
      { stdio: ['ignore', 'pipe', 'inherit'] });
      const row: ClientRow = { id: i, child, states: [], firstPosition: null, started: Date.now(), finished: null,
        bytes: {}, status: 'running', out, uploaded: 0 };
      rows.push(row);
      let buf = '';
      child.stdout!.on('data', (b: Buffer) => {
        buf += b.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let ev: { event?: string; state?: string; position?: number; status?: string; bytesBySource?: Record<string, number>;
            uploadedBytes?: number };
          try {
            ev = JSON.parse(line);
          } catch {
            continue;
          }
          if (ev.event === 'state' && ev.state) {
            row.states.push(ev.state);
            const label = ev.state === 'active.server' ? 'granted a slot: fetching from the origin'
              : ev.state === 'active.p2p' ? 'denied (origin full): waiting for a slot'
                : ev.state === 'active.resumeServer' ? 'slot offered: resuming from the origin'
                  : ev.state === 'complete' ? 'complete' : null;
            if (label) say(`  [${ms(Date.now())}] client ${i}: ${label}`);
          } else if (ev.event === 'position' && ev.position !== undefined) {
            row.firstPosition ??= ev.position;
            say(`  [${ms(Date.now())}] client ${i}: wait-list position ${ev.position}`);
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
    if (interrupted) {
      say('\ninterrupted: stopped every client and service');
      return 130;
    }
    say('\nclient  path                              wait#  time     from origin  from peers  uploaded   sha256');
    let allGood = true;
    const sourceHash = await sha256File(video);
    for (const r of rows) {
      const ok = r.status === 'complete' && (await sha256File(r.out).catch(() => '')) === sourceHash;
      allGood &&= ok;
      const path = r.states.filter((s) => s.startsWith('active.')).map((s) => s.slice(7)).join(' → ') || '-';
      const fromPeers = Object.entries(r.bytes).filter(([k]) => k.startsWith('peer:')).reduce((a, [, v]) => a + v, 0);
      const mib = (n: number) => `${(n / MiB).toFixed(2).padStart(6)} MiB`;
      say(`${String(r.id).padEnd(8)}${path.padEnd(34)}${String(r.firstPosition ?? '-').padEnd(7)}` +
        `${r.finished ? ms(r.finished).padEnd(9) : 'failed   '}${mib(r.bytes.origin ?? 0)}  ${mib(fromPeers)}  ` +
        `${mib(r.uploaded)}  ${ok ? 'identical' : 'MISMATCH'}`);
    }
    const egress = stack.gateway.stats().chunkBytesTotal;
    say(`\norigin egress ${(egress / MiB).toFixed(1)} MiB for ${clients} × ${(manifest.size / MiB).toFixed(1)} MiB ` +
      `(${(egress / manifest.size).toFixed(2)} × the file); the rest travelled peer to peer`);
    say(allGood ? `all ${clients} downloads are byte-identical to the source; at most ${capacity} held a slot at once`
      : 'some downloads failed');
    return allGood ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    for (const r of rows) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
