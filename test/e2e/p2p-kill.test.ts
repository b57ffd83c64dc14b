/**
 * A seeding peer that disappears mid-transfer (its process killed) costs the downloaders only a retry: the
 * request to it fails (link closed or timed out) and the chunk is fetched from another peer.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { startStack, type Stack } from '../../client/stack.js';
import { createLogger } from '../../lib/logger.js';
import { Subjects, type Manifest } from '../../protocol/mod.js';
import { findEvent, sha256File, startCli, type CliRun } from '../helpers/cli.js';
import { waitFor } from '../helpers/env.js';

const MiB = 1024 * 1024;
const t = suite<{ stack: Stack; dir: string; file: string; manifest: Manifest; runs: CliRun[] }>('p2p: a peer killed mid-transfer');

t.before(async (ctx) => {
  ctx.runs = [];
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-kill-'));
  // capacity 0: nobody gets the origin, every byte must come from peers
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 0, trackerIntervalMs: 1000 }, createLogger('kill'));
  ctx.file = join(ctx.dir, 'video.bin');
  writeFileSync(ctx.file, randomBytes(6 * MiB));
  const origin = createOriginClient(ctx.stack.nc);
  ctx.manifest = (await ingestFile({ path: ctx.file, stream: false }, { store: ctx.stack.store, publish: (m) => origin.publish(m),
    logger: createLogger('ingest') })).manifest;
});
t.after(async (ctx) => {
  for (const r of ctx.runs) r.child.kill('SIGKILL');
  await ctx.stack.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

t('two seeds, one killed while serving: both downloaders still finish byte-identical', async (ctx) => {
  const { stack, manifest } = ctx;
  const common = ['--nats', stack.natsUrl, '--gateway', stack.gatewayUrl, '--bind', '127.0.0.1', '--json'];
  const seeds = ['seedA', 'seedB'].map((id) => startCli(['seed', manifest.videoId, '--file', ctx.file, '--label', id,
    '--up-rate', String(MiB), ...common]));
  ctx.runs.push(...seeds);
  await waitFor(() => seeds.every((s) => s.events.some((e) => e.event === 'seeding')), 'seeds ready', 20000);
  // the gateway assigns ids as `<label>-<random>`; the seeds say theirs
  const [idA, idB] = seeds.map((s) => findEvent<{ peerId: string }>(s.events, 'seeding')!.peerId) as [string, string];
  assert.match(idA, /^seedA-/);
  const gets = [0, 1].map((i) => startCli(['get', manifest.videoId, '-o', join(ctx.dir, `out${i}.bin`), '--label', `dl${i}`,
    '--no-upload', ...common]));
  ctx.runs.push(...gets);
  // kill seedA without any goodbye as soon as a downloader reports bytes from it (their telemetry), mid-transfer
  let fromA = 0;
  const sub = stack.nc.subscribe(Subjects.telemetryAll, { callback: (_e, m) => {
    const st = JSON.parse(new TextDecoder().decode(m.data)) as { bytesBySource: Record<string, number>; haveCount: number; chunkCount: number };
    if (st.haveCount < st.chunkCount) fromA = Math.max(fromA, st.bytesBySource[`peer:${idA}`] ?? 0);
  } });
  await waitFor(() => fromA > 0, 'a downloader receiving from seedA', 20000, 10);
  sub.unsubscribe();
  assert.ok(gets.every((g) => g.child.exitCode === null), 'downloads still running when the seed dies');
  seeds[0]!.child.kill('SIGKILL');
  const codes = await Promise.all(gets.map((g) => g.exited));
  codes.forEach((c, i) => {
    assert.is(c, 0, gets[i]!.stderr());
  });
  const source = sha256File(ctx.file);
  for (let i = 0; i < 2; i++) {
    assert.is(sha256File(join(ctx.dir, `out${i}.bin`)), source);
    const done = findEvent<{ bytesBySource: Record<string, number> }>(gets[i]!.events, 'done')!;
    assert.is(done.bytesBySource.origin, undefined);
    assert.ok((done.bytesBySource[`peer:${idB}`] ?? 0) > 0, 'the rest came from the surviving seed');
  }
  const gotFromA = gets.map((g) => findEvent<{ bytesBySource: Record<string, number> }>(g.events, 'done')!.bytesBySource[`peer:${idA}`] ?? 0);
  assert.ok(gotFromA.some((b) => b > 0), 'seedA was serving when it died');
});

t.run();
