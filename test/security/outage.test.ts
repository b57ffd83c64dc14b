/**
 * Outages and misconfiguration with a lone real CLI client (no peers, `--no-upload`): a NATS restart mid-download
 * is waited out and the download completes; a gateway that refuses the origin's grants (different grant secrets)
 * ends the download with a clear error instead of holding an origin slot forever. Either way no slot stays held.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { generateSampleVideo } from '../../client/media.js';
import { startStack, type Stack, type StackOptions } from '../../client/stack.js';
import { createLogger } from '../../lib/logger.js';
import { findEvent, sha256File, startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/env.js';
import { chunksOnDisk } from '../helpers/disk.js';

const OUTAGE_MS = 20_000;
const t = suite<{ dir: string; video: string }>('security: outages and grant mismatch with a lone client');

t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-outage-'));
  ctx.video = join(ctx.dir, 'testsrc.mp4');
  await generateSampleVideo(ctx.video, { seconds: 12, kbps: 2000 });
});
t.after(({ dir }) => rmSync(dir, { recursive: true, force: true }));

async function stackWith(ctx: { dir: string; video: string }, name: string, opts: Partial<StackOptions>) {
  const stack = await startStack({ dataDir: join(ctx.dir, name), capacity: 1, ...opts }, createLogger('e2e'));
  const origin = createOriginClient(stack.nc);
  const { manifest } = await ingestFile({ path: ctx.video, stream: false }, { store: stack.store, publish: (m) => origin.publish(m),
    logger: createLogger('ingest') });
  return { stack, manifest };
}

const heldSlots = (stack: Stack) => {
  const s = stack.origins[0]!.admission.snapshot();
  return s.slots.filter(Boolean).length + s.waiting.length;
};

const onDisk = (out: string) => chunksOnDisk(`${out}.part`);

t('NATS stopped for 20 s mid-download: the lone get waits it out and completes byte-identical; no slot held after', async (ctx) => {
  const { stack, manifest } = await stackWith(ctx, 'nats', { leaseTtlMs: 3000 });
  try {
    const out = join(ctx.dir, 'nats.mp4');
    // ~12 s of transfer without the outage, so the outage lands in the middle
    const run = startCli(['get', manifest.videoId, '-o', out, '--json', '--rate', String(Math.ceil(manifest.size / 12)),
      '--nats', stack.natsUrl, '--gateway', stack.gatewayUrl, '--label', 'outage', '--no-upload'], { timeoutMs: 150_000 });
    await waitFor(() => onDisk(out) >= 3, 'three verified chunks before the outage', 30_000);
    const before = onDisk(out);
    await stack.natsServer!.pause();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    assert.ok(onDisk(out) >= before, 'verified chunks were kept through the outage');
    await stack.natsServer!.resume();
    const resumedAt = Date.now();
    const code = await Promise.race([run.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 60_000))]);
    const afterResume = Date.now() - resumedAt;
    if (code === 'late') run.child.kill('SIGKILL');
    assert.is(code, 0, `exit ${code} after ${afterResume} ms: ${run.stderr().slice(-3000)}`);
    const states = run.events.filter((e) => e.event === 'state').map((e) => e.state).join(' → ');
    console.log(`  get finished ${afterResume} ms after NATS came back (${before} of ${manifest.chunks.length} chunks ` +
      `before the outage; states ${states})`);
    assert.is(sha256File(out), sha256File(ctx.video));
    const done = findEvent<{ status: string; chunksFetched: number }>(run.events, 'done')!;
    assert.is(done.status, 'complete');
    await waitFor(() => heldSlots(stack) === 0, 'no slot or wait-list entry held afterwards', 10_000);
  } finally {
    await stack.stop();
  }
});

t('a gateway whose grant secret differs from the origin\'s: the get fails clearly, and gives its slot back', async (ctx) => {
  const { stack, manifest } = await stackWith(ctx, 'mismatch', {
    leaseTtlMs: 6000, grantSecret: 'origin-secret-'.padEnd(40, 'o'), gatewayGrantSecret: 'gateway-secret-'.padEnd(40, 'g'),
  });
  try {
    const out = join(ctx.dir, 'mismatch.mp4');
    const startedAt = Date.now();
    const run = startCli(['get', manifest.videoId, '-o', out, '--json', '--nats', stack.natsUrl,
      '--gateway', stack.gatewayUrl, '--label', 'mismatch', '--no-upload'], { timeoutMs: 90_000 });
    const code = await run.exited;
    const tookMs = Date.now() - startedAt;
    const exitedAt = Date.now();
    console.log(`  grant-mismatch get failed after ${tookMs} ms: ${run.stderr().trim().split('\n').pop()}`);
    assert.ok(code !== 0 && code !== null, `non-zero exit (got ${code})`);
    assert.ok(tookMs < 60_000, `failed within 60 s (took ${tookMs} ms)`);
    assert.match(run.stderr(), /grant/);
    assert.match(run.stderr(), /grant_invalid/);
    const done = findEvent<{ status: string; error?: { code: string } }>(run.events, 'done')!;
    assert.is(done.status, 'failed');
    assert.is(done.error?.code, 'grant_rejected');
    // released by the client, not left to the 6 s lease expiry
    await waitFor(() => heldSlots(stack) === 0, 'slot released', 3000);
    assert.ok(Date.now() - exitedAt < 3000);
  } finally {
    await stack.stop();
  }
});

t.run();
