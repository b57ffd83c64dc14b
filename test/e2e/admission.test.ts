/**
 * Admission end to end with real CLI clients: capacity limits, wait-list order, and a killed client's slot
 * coming back, while a restarted client fetches only what it lacks.
 */
import { Kvm } from '@nats-io/kv';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { generateSampleVideo } from '../../client/media.js';
import { startStack, type Stack } from '../../client/stack.js';
import { createLogger } from '../../lib/logger.js';
import { Buckets, type Manifest } from '../../protocol/mod.js';
import { findEvent, startCli, sha256File, type CliRun } from '../helpers/cli.js';
import { waitFor } from '../helpers/env.js';
import { chunksOnDisk } from '../helpers/disk.js';

const LEASE_TTL = 1500;
const t = suite<{ stack: Stack; dir: string; video: string; manifest: Manifest }>('e2e: admission with real clients');

t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-adm-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 2, leaseTtlMs: LEASE_TTL }, createLogger('e2e'));
  ctx.video = join(ctx.dir, 'testsrc.mp4');
  await generateSampleVideo(ctx.video, { seconds: 12, kbps: 2000 });
  const origin = createOriginClient(ctx.stack.nc);
  ctx.manifest = (await ingestFile({ path: ctx.video, stream: false }, { store: ctx.stack.store, publish: (m) => origin.publish(m),
    logger: createLogger('ingest') })).manifest;
});
t.after(async ({ stack, dir }) => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

const stateAt = (run: CliRun, state: string) => run.events.find((e) => e.event === 'state' && e.state === state)?.at;

t('capacity 2, five simultaneous clients: never more than 2 hold a slot; 3 wait and finish in wait-list order', async (ctx) => {
  const { stack, manifest } = ctx;
  // Sample the lease set from the admission bucket itself, on every change.
  const kv = await new Kvm(stack.nc).open(Buckets.admission);
  const live = new Map<string, number>();
  let maxLive = 0;
  const watcher = await kv.watch({ key: 'slot.>' });
  void (async () => {
    for await (const e of watcher) {
      if (e.operation === 'PUT') live.set(e.key, e.revision);
      else live.delete(e.key);
      maxLive = Math.max(maxLive, live.size);
    }
  })();
  let maxChecked = 0;
  const sampler = setInterval(() => (maxChecked = Math.max(maxChecked, liveLeases(stack))), 5);
  const rate = String(Math.ceil(manifest.size / 1.2));
  const runs = Array.from({ length: 5 }, (_, i) => startCli(['get', manifest.videoId, '-o', join(ctx.dir, `c${i}.mp4`),
    '--json', '--rate', rate, '--nats', stack.natsUrl, '--gateway', stack.gatewayUrl, '--label', `crowd${i}`,
    // consume-only clients: nobody serves peers, so the denied ones must wait for the origin (admission under test)
    '--no-upload']));
  const codes = await Promise.all(runs.map((r) => r.exited));
  clearInterval(sampler);
  watcher.stop();
  codes.forEach((c, i) => {
    assert.is(c, 0, runs[i]!.stderr());
  });
  for (const r of runs) {
    const done = findEvent<{ bytesBySource: Record<string, number> }>(r.events, 'done')!;
    assert.equal(Object.keys(done.bytesBySource), ['origin'], '--no-upload peers never serve each other');
  }
  for (let i = 0; i < 5; i++) assert.is(sha256File(join(ctx.dir, `c${i}.mp4`)), sha256File(ctx.video));
  assert.ok(maxLive <= 2, `at most 2 slot leases existed at once (saw ${maxLive})`);
  assert.ok(maxChecked <= 2, `the gateway never saw more than 2 live leases (saw ${maxChecked})`);

  const granted = runs.filter((r) => stateAt(r, 'active.server') !== undefined);
  const denied = runs.filter((r) => stateAt(r, 'active.p2p') !== undefined);
  assert.is(granted.length, 2);
  assert.is(denied.length, 3);
  // Holding intervals (entered an origin state .. started assembling) never overlap more than twice.
  const intervals = runs.map((r) => [stateAt(r, 'active.server') ?? stateAt(r, 'active.resumeServer')!, stateAt(r, 'assembling')!]);
  for (const [start] of intervals) {
    const overlapping = intervals.filter(([s, e]) => s! <= start! && start! < e!).length;
    assert.ok(overlapping <= 2, `${overlapping} clients fetched from the origin at once`);
  }
  // Denied clients resumed in wait-list order. Their first positions are 1..3 when all three were denied before the
  // first of them resumed; a client whose CLI started late (a loaded machine) may be denied after a slot already went
  // to the head of the line, and then rightly gets a number one denied earlier had.
  const waited = denied.map((r) => {
    const told = r.events.find((e) => e.event === 'position') as { position: number; at: number } | undefined;
    return { pos: told?.position as number, deniedAt: told?.at as number, resumed: stateAt(r, 'active.resumeServer')! };
  });
  const positions = waited.map((d) => d.pos).sort((a, b) => a - b);
  const together = Math.max(...waited.map((d) => d.deniedAt)) < Math.min(...waited.map((d) => d.resumed)) - 500;
  if (together) assert.equal(positions, [1, 2, 3]);
  else assert.ok(positions.every((p, i) => p >= 1 && p <= i + 1), `positions ${positions.join(', ')}`);
  // who was ahead in line: the one denied clearly earlier, else (denied within moments) the lower position
  type Waited = (typeof waited)[number];
  const ahead = (a: Waited, b: Waited) => (Math.abs(a.deniedAt - b.deniedAt) > 500 ? a.deniedAt < b.deniedAt
    : a.pos < b.pos || (a.pos === b.pos && a.deniedAt <= b.deniedAt));
  for (const a of waited) {
    for (const b of waited) {
      if (a !== b && ahead(a, b)) assert.ok(a.resumed <= b.resumed, 'slots went to the longest-waiting client first');
    }
  }
});

function liveLeases(stack: Stack): number {
  return stack.origins[0]!.admission.snapshot().slots.filter(Boolean).length;
}

t('a killed client loses its slot within the lease expiry; restarted, it fetches only missing chunks', async (ctx) => {
  const { stack, manifest } = ctx;
  const out = join(ctx.dir, 'killed.mp4');
  const slow = String(Math.ceil(manifest.size / 6));
  const first = startCli(['get', manifest.videoId, '-o', out, '--json', '--rate', slow, '--nats', stack.natsUrl,
    '--gateway', stack.gatewayUrl, '--label', 'victim']);
  await waitFor(() => chunksOnDisk(`${out}.part`) >= 3, 'three verified chunks on disk', 30000);
  assert.is(liveLeases(stack), 1);
  first.child.kill('SIGKILL');
  const killedAt = Date.now();
  await first.exited;
  await waitFor(() => liveLeases(stack) === 0, 'slot freed after the lease expiry', LEASE_TTL + 3000);
  const freedAfter = Date.now() - killedAt;
  assert.ok(freedAfter <= LEASE_TTL + 1000, `slot came back ${freedAfter} ms after the kill`);

  const kept = chunksOnDisk(`${out}.part`);
  const second = startCli(['get', manifest.videoId, '-o', out, '--json', '--nats', stack.natsUrl,
    '--gateway', stack.gatewayUrl, '--label', 'victim']);
  assert.is(await second.exited, 0, second.stderr());
  assert.is(sha256File(out), sha256File(ctx.video));
  const start = findEvent<{ resumedChunks: number }>(second.events, 'start')!;
  const done = findEvent<{ chunksFetched: number; bytesBySource: { origin?: number } }>(second.events, 'done')!;
  assert.ok(start.resumedChunks >= kept && kept >= 3, `resumed ${start.resumedChunks} chunks (${kept} on disk)`);
  assert.is(done.chunksFetched, manifest.chunks.length - start.resumedChunks);
  assert.ok((done.bytesBySource.origin ?? 0) < manifest.size, 'fetched less than the whole file');
});

t('sy_admission deleted mid-download: the client is told unknown_session, re-opens and completes', async (ctx) => {
  const { stack, manifest } = ctx;
  const out = join(ctx.dir, 'lost-bucket.mp4');
  const run = startCli(['get', manifest.videoId, '-o', out, '--json', '--rate', String(Math.ceil(manifest.size / 3)),
    '--nats', stack.natsUrl, '--gateway', stack.gatewayUrl, '--label', 'lostbucket', '--no-upload']);
  await waitFor(() => stateAt(run, 'active.server'), 'download holding a slot', 20000)
    .catch((err) => { throw new Error(`${(err as Error).message}: ${JSON.stringify(run.events)} ${run.stderr()}`); });
  await (await new Kvm(stack.nc).open(Buckets.admission)).destroy();
  assert.is(await run.exited, 0, run.stderr());
  assert.is(sha256File(out), sha256File(ctx.video));
  const states = run.events.filter((e) => e.event === 'state').map((e) => e.state);
  assert.ok(states.filter((s) => s === 'opening').length >= 2, `re-opened after the loss: ${states.join(' → ')}`);
});

t.run();
