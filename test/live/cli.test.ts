/**
 * The live CLI end to end: `switchyard live testsrc --name …` (the real CLI, Debian ffmpeg, the deployment's
 * operator keys) against a real stack on 127.0.0.1, and `switchyard play <streamId>` (the real CLI) serving the
 * stream to Debian's ffprobe as a live HLS playlist while the stream is still running; at the end the live CLI
 * prints the video the recording became.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { startStack, type Stack } from '../../client/stack.js';
import { createLogger } from '../../lib/logger.js';
import { startCli, type CliRun } from '../helpers/cli.js';
import { waitFor } from '../helpers/env.js';
import { rawRequest as raw } from '../helpers/http.js';

const t = suite<{ stack: Stack; dir: string }>('live: the CLI');

function run(cmd: string, args: string[], timeoutMs = 30000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
const common = (s: Stack) => ['--nats', s.natsUrl, '--gateway', s.gatewayUrl];
const stop = (cli: CliRun) => {
  cli.child.kill('SIGINT');
  return cli.exited;
};

t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-live-cli-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 1 }, createLogger('live-cli-test', 'error'));
});
t.after(async ({ stack, dir }) => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

t('live → play → ffprobe reads the live playlist mid-stream → the end names the recording', async (ctx) => {
  const live = startCli(['live', 'testsrc', '--name', 'clilive', '--duration', '14', '--bitrate', '300', '--size', '320x180',
    '--json', '--store', ctx.stack.storeLocation, '--auth-dir', ctx.stack.auth.dir, ...common(ctx.stack)], { timeoutMs: 90000 });
  let play: CliRun | null = null;
  try {
    await waitFor(() => live.events.find((e) => e.event === 'segment'), `a segment (${live.stderr()})`, 30000);
    play = startCli(['play', 'clilive', '--json', ...common(ctx.stack)], { timeoutMs: 90000 });
    const listening = await waitFor(() => play!.events.find((e) => e.event === 'listening') as
      { playlist: string; port: number; live: boolean } | undefined, `listening (${play.stderr()})`, 30000);
    assert.ok(listening.live);
    await waitFor(() => play!.events.filter((e) => e.event === 'segment').length >= 3 || undefined, 'three segments', 20000);
    const probe = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', listening.playlist]);
    const endedWhenProbed = live.events.some((e) => e.event === 'ended');
    assert.is(probe.code, 0, probe.stderr);
    const streams = (JSON.parse(probe.stdout) as { streams: Array<{ codec_type: string; codec_name: string; width?: number }> }).streams;
    assert.ok(streams.some((s) => s.codec_type === 'video' && s.codec_name === 'h264' && s.width === 320), probe.stdout);
    assert.ok(streams.some((s) => s.codec_type === 'audio' && s.codec_name === 'aac'));
    assert.not.ok(endedWhenProbed, 'ffprobe read the stream while it was live');
    const pl = await raw(listening.port, '/clilive.m3u8');
    assert.match(pl.body.toString(), /#EXT-X-MEDIA-SEQUENCE:\d+/);
    assert.not.match(pl.body.toString(), /ENDLIST/);
    assert.is((await raw(listening.port, '/seg/999999.m4s')).status, 404);
    assert.is((await raw(listening.port, '/../auth/x')).status, 404);

    const ended = await waitFor(() => live.events.find((e) => e.event === 'ended') as { videoId: string | null } | undefined,
      `ended (${live.stderr()})`, 60000);
    assert.is(await live.exited, 0, live.stderr());
    assert.ok(ended.videoId, 'the recording became a video');
    const m = await createOriginClient(ctx.stack.nc).manifest(ended.videoId!);
    assert.ok(m.stream && m.stream.segments.length >= 12, `${m.stream?.segments.length} segments`);
    await waitFor(() => play!.events.find((e) => e.event === 'stopped'), `play stopped (${play.stderr()})`, 30000);
    assert.is(await play.exited, 0, play.stderr());
    const segs = play.events.filter((e) => e.event === 'segment').length;
    assert.ok(segs >= 10, `play verified ${segs} segments`);
    assert.is(play.events.filter((e) => e.event === 'corrupt').length, 0);
  } finally {
    if (play && play.child.exitCode === null) await stop(play);
    if (live.child.exitCode === null) await stop(live);
  }
});

t('live refuses without operator keys, and with a bad name', async (ctx) => {
  const noKeys = startCli(['live', 'testsrc', '--name', 'x1', '--auth-dir', join(ctx.dir, 'none'), ...common(ctx.stack)]);
  assert.is.not(await noKeys.exited, 0);
  assert.match(noKeys.stderr(), /operator keys/);
  const bad = startCli(['live', 'testsrc', '--name', 'a.b', ...common(ctx.stack)]);
  assert.is.not(await bad.exited, 0);
  assert.match(bad.stderr(), /stream id/);
});

t.run();
