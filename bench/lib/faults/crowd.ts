/**
 * One crowd of real CLI clients (`switchyard get --json`, each its own process) against a scaled deployment
 * (infra/deployment.ts), with a fault injected once the crowd is a set fraction of the way through (measured
 * from the verified chunks on the clients' disks, not from time). A client the fault kills is not a survivor; a
 * client it kills and restarts is one, and its re-fetched bytes are counted against what it had written.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Deployment } from '../../../infra/deployment.js';
import type { Manifest } from '../../../protocol/mod.js';
import { journalIndexes, journalPathFor, partialDirFor } from '../../../client/partial.js';
import { sha256File, startCli, type CliRun } from '../cli.js';

/** One client slot of the crowd; `run` is replaced when the client is restarted. */
export interface CrowdClient {
  index: number;
  label: string;
  out: string;
  args: string[];
  run: CliRun;
  /** killed by the fault and not restarted: not a survivor */
  killed: boolean;
  /** chunk bytes (and chunks) its earlier runs had verified and written when they were killed */
  writtenBeforeRestart: number;
  writtenChunksBeforeRestart: number;
  restarts: number;
}

/** What a fault may do to the crowd while it runs. */
export interface CrowdControl {
  deploy: Deployment;
  manifest: Manifest;
  clients: CrowdClient[];
  /** SIGKILL a client for good */
  kill(index: number): Promise<void>;
  /** SIGKILL a client and start it again on its partial download */
  killAndRestart(index: number, downMs?: number): Promise<void>;
  /** verified chunks on disk over all clients, as a fraction of what the crowd needs */
  progress(): number;
}

export interface CrowdOptions {
  deploy: Deployment;
  manifest: Manifest;
  /** the source file (the bytes every client must end with) */
  sourceSha256: string;
  dir: string;
  name: string;
  clients: number;
  /** per-client download cap, bytes/s (so the crowd lasts long enough for the fault to land mid-run) */
  rateBps: number;
  /** where in the crowd the fault is injected (fraction of chunks on disk, default 0.3) */
  at?: number;
  timeoutMs?: number;
}

export interface ClientOutcome {
  label: string;
  survivor: boolean;
  exitCode: number | null;
  identical: boolean;
  /** bytes this client fetched more than once though it had them written (should be 0) */
  refetchedBytes: number;
  restarts: number;
  /** seconds from the crowd's start to this client's exit */
  seconds: number;
  /** the machine states it went through (from its --json events), for reading a slow run */
  states: string[];
  stderrTail?: string;
}

export interface CrowdOutcome {
  name: string;
  durationS: number;
  clients: ClientOutcome[];
  /** from the fault: anything worth reporting */
  detail: Record<string, unknown>;
}

/** the chunks a client has written (its `.part` journal; gone once it assembled the file) */
const writtenChunks = (out: string, count: number): number[] => {
  const journal = journalPathFor(partialDirFor(out));
  if (!existsSync(journal)) return [];
  return journalIndexes(readFileSync(journal), count);
};

export async function runFaultCrowd(opts: CrowdOptions,
  fault?: (c: CrowdControl) => Promise<Record<string, unknown>>): Promise<CrowdOutcome> {
  const { deploy, manifest } = opts;
  const gateways = deploy.gateways().map((g) => g.gatewayUrl!);
  const lengthOf = (i: number) => Math.min(manifest.chunkSize, manifest.size - i * manifest.chunkSize);
  const clients: CrowdClient[] = Array.from({ length: opts.clients }, (_, i) => {
    // peer labels are short and alphanumeric (the gateway's rule)
    const label = `${opts.name.replace(/[^A-Za-z0-9]/g, '').slice(0, 20)}${i}`;
    const out = join(opts.dir, `${opts.name}-${i}.mp4`);
    const args = ['get', manifest.videoId, '-o', out, '--json', '--rate', String(opts.rateBps),
      '--nats', deploy.cluster.url, '--gateway', gateways[i % gateways.length]!, '--label', label];
    return { index: i, label, out, args, run: startCli(args, { timeoutMs: opts.timeoutMs ?? 120_000 }), killed: false,
      writtenBeforeRestart: 0, writtenChunksBeforeRestart: 0, restarts: 0 };
  });
  const started = Date.now();
  const killRun = async (c: CrowdClient) => {
    c.run.child.kill('SIGKILL');
    await c.run.exited;
  };
  const control: CrowdControl = {
    deploy, manifest, clients,
    async kill(i) {
      clients[i]!.killed = true;
      await killRun(clients[i]!);
    },
    async killAndRestart(i, downMs = 0) {
      const c = clients[i]!;
      await killRun(c);
      const written = writtenChunks(c.out, manifest.chunks.length);
      c.writtenBeforeRestart = written.reduce((s, k) => s + lengthOf(k), 0);
      c.writtenChunksBeforeRestart = written.length;
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      c.restarts++;
      c.run = startCli(c.args, { timeoutMs: opts.timeoutMs ?? 120_000 });
    },
    // a client that assembled its file has every chunk (its `.part` journal is gone)
    progress: () => clients.reduce((s, c) => s + (existsSync(c.out) ? manifest.chunks.length
      : writtenChunks(c.out, manifest.chunks.length).length), 0) / (clients.length * manifest.chunks.length),
  };
  let detail: Record<string, unknown> = {};
  if (fault) {
    const at = opts.at ?? 0.3;
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    while (control.progress() < at && Date.now() < deadline && clients.some((c) => c.run.child.exitCode === null)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    detail = { injected_at_progress: Number(control.progress().toFixed(2)), ...(await fault(control)) };
  }
  // a restarted client's run is replaced while we wait: wait until every current run has exited
  for (;;) {
    const runs = clients.map((c) => c.run);
    await Promise.all(runs.map((r) => r.exited));
    if (clients.every((c, i) => c.run === runs[i])) break;
  }
  const durationS = (Date.now() - started) / 1000;
  const outcomes = clients.map((c): ClientOutcome => {
    const code = c.run.child.exitCode;
    const done = c.run.events.find((e) => e.event === 'done') as { bytesBySource?: Record<string, number> } | undefined;
    const start = c.run.events.find((e) => e.event === 'start') as { resumedChunks?: number } | undefined;
    const fetched = Object.values(done?.bytesBySource ?? {}).reduce((s, b) => s + b, 0);
    const resumed = start?.resumedChunks ?? 0;
    // exact when it resumed exactly what was written (the expected case); else an upper bound per chunk
    const resumedBytes = c.restarts > 0 && resumed === c.writtenChunksBeforeRestart ? c.writtenBeforeRestart
      : resumed * manifest.chunkSize;
    // what it fetched beyond what it lacked, plus what it had written before a kill but did not find again
    const refetched = Math.max(0, fetched - (manifest.size - Math.min(resumedBytes, manifest.size)))
      + Math.max(0, c.writtenBeforeRestart - resumedBytes);
    const identical = !c.killed && code === 0 && existsSync(c.out) && sha256File(c.out) === opts.sourceSha256;
    return { label: c.label, survivor: !c.killed, exitCode: code, identical, refetchedBytes: c.killed ? 0 : refetched,
      restarts: c.restarts, seconds: Number((((c.run.events.at(-1)?.at ?? Date.now()) - started) / 1000).toFixed(1)),
      states: c.run.events.filter((e) => e.event === 'state').map((e) => `${String(e.state)}@${(((e.at ?? 0) - started) / 1000).toFixed(1)}`),
      ...(code !== 0 && !c.killed ? { stderrTail: c.run.stderr().slice(-800) } : {}) };
  });
  for (const c of clients) {
    rmSync(c.out, { force: true });
    rmSync(`${c.out}.part`, { recursive: true, force: true });
  }
  return { name: opts.name, durationS, clients: outcomes, detail };
}
