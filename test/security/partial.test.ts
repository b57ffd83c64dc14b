/**
 * Two real `switchyard get` runs racing for one `<output>.part/` directory, against a real local stack (NATS,
 * origin, gateway, fs store): two different videos published under one name, and the same video twice. Both
 * runs start at once and are slowed with --rate so they overlap. Every run that exits 0 must have produced a
 * file byte-identical to its own source; the other must have been refused with the lock error naming the
 * winner's pid (and never claim "every chunk verified").
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateSampleVideo } from '../../client/media.js';
import { startStack, type Stack } from '../../client/stack.js';
import { createLogger } from '../../lib/logger.js';
import { runCli, sha256File, startCli } from '../helpers/cli.js';
import { chunksOnDisk } from '../helpers/disk.js';

interface Video { path: string; id: string; sha: string }
const t = suite<{ stack: Stack; dir: string; a: Video; b: Video }>('security: concurrent gets sharing a .part directory');

const NAME = 'clip.mp4';
// ~1.2 MB per video at 300 kB/s: each download takes seconds, so runs started together always overlap
const RATE = '300000';
const common = (s: Stack) => ['--nats', s.natsUrl, '--gateway', s.gatewayUrl];

async function ingest(stack: Stack, path: string): Promise<string> {
  const r = await runCli(['ingest', path, '--name', NAME, '--no-stream', '--json', '--store', stack.storeLocation, ...common(stack),
    '--auth-dir', stack.auth.dir]);
  assert.is(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout.trim()) as { videoId: string }).videoId;
}

t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-partial-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 4, leaseTtlMs: 2000 }, createLogger('partial'));
  const make = async (file: string, seconds: number): Promise<Video> => {
    const path = join(ctx.dir, file);
    await generateSampleVideo(path, { seconds, kbps: 1500 });
    return { path, id: await ingest(ctx.stack, path), sha: sha256File(path) };
  };
  ctx.a = await make('a.mp4', 6);
  ctx.b = await make('b.mp4', 7);
  assert.is.not(ctx.a.id, ctx.b.id);
});
t.after(async ({ stack, dir }) => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Outcome { code: number | null; stderr: string; pid: number; shaAtExit: string | null }

/** Starts one `get` per video at the same instant, in one working directory, without -o (same output name). */
async function race(stack: Stack, cwd: string, videos: Video[]): Promise<Outcome[]> {
  const runs = videos.map((v) => startCli(['get', v.id, '--rate', RATE, ...common(stack)], { cwd }));
  return Promise.all(runs.map(async (r) => {
    const code = await r.exited;
    // hashed the moment this run ends: a later run may legitimately replace the output afterwards
    const out = join(cwd, NAME);
    return { code, stderr: r.stderr(), pid: r.child.pid!, shaAtExit: code === 0 && existsSync(out) ? sha256File(out) : null };
  }));
}

function judge(outcomes: Outcome[], videos: Video[]) {
  let refused = 0;
  outcomes.forEach((o, i) => {
    const other = outcomes[1 - i]!;
    if (o.code === 0) {
      assert.is(o.shaAtExit, videos[i]!.sha, `run ${i} exited 0, so its file must be its own video`);
      assert.match(o.stderr, 'every chunk verified');
    } else {
      refused++;
      assert.is(o.code, 1, o.stderr);
      assert.match(o.stderr, `another switchyard get is using ${NAME}.part (pid ${other.pid}`);
      assert.match(o.stderr, '(locked)');
      assert.not.match(o.stderr, 'every chunk verified');
    }
  });
  // started together and rate-limited, the runs overlap: the lock must have turned exactly one away
  assert.is(refused, 1, outcomes.map((o) => o.stderr).join('\n---\n'));
}

function assertClean(cwd: string) {
  assert.equal(readdirSync(cwd), [NAME], 'no lock, .part directory or temp file left behind');
}

t('two different videos with the same name: one run wins, the other is refused by the lock', async (ctx) => {
  const cwd = join(ctx.dir, 'same-name');
  mkdirSync(cwd);
  const videos = [ctx.a, ctx.b];
  const outcomes = await race(ctx.stack, cwd, videos);
  judge(outcomes, videos);
  assertClean(cwd);
  // the refused run lost nothing: run again on its own, it completes with its own bytes
  const loser = outcomes.findIndex((o) => o.code !== 0);
  const again = await runCli(['get', videos[loser]!.id, ...common(ctx.stack)], { cwd });
  assert.is(again.code, 0, again.stderr);
  assert.is(sha256File(join(cwd, NAME)), videos[loser]!.sha);
  assertClean(cwd);
});

t('the same video twice: one run wins, the other is refused by the lock', async (ctx) => {
  const cwd = join(ctx.dir, 'same-video');
  mkdirSync(cwd);
  const videos = [ctx.a, ctx.a];
  judge(await race(ctx.stack, cwd, videos), videos);
  assert.is(sha256File(join(cwd, NAME)), ctx.a.sha);
  assertClean(cwd);
});

t('an interrupted download of one video is never used for another of the same name; it resumes intact', async (ctx) => {
  const cwd = join(ctx.dir, 'interrupted');
  mkdirSync(cwd);
  const first = startCli(['get', ctx.a.id, '--rate', RATE, ...common(ctx.stack)], { cwd });
  while (chunksOnDisk(join(cwd, `${NAME}.part`)) < 2) await new Promise((r) => setTimeout(r, 50));
  first.child.kill('SIGINT');
  assert.is(await first.exited, 130, first.stderr());
  assert.not.ok(existsSync(join(cwd, `${NAME}.part.lock`)), 'the lock is released on SIGINT');
  const other = await runCli(['get', ctx.b.id, ...common(ctx.stack)], { cwd });
  assert.is(other.code, 1);
  assert.match(other.stderr, `${NAME}.part holds a partial download of another video (${ctx.a.id}`);
  assert.not.ok(existsSync(join(cwd, NAME)));
  const resumed = await runCli(['get', ctx.a.id, ...common(ctx.stack)], { cwd });
  assert.is(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming: \d+ of \d+ chunks already verified/);
  assert.is(sha256File(join(cwd, NAME)), ctx.a.sha);
  assertClean(cwd);
});

t.run();
