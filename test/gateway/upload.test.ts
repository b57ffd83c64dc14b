import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Manifest } from '../../protocol/mod.js';
import { sha256Hex } from '../../lib/hash.js';
import { errorCode, startFixture, type Fixture } from './fixture.js';

const MAX = 1024 * 1024;
const t = suite<{ fx: Fixture }>('gateway uploads with the real ingest worker');

t.before(async (ctx) => {
  ctx.fx = await startFixture({ withIngestWorker: true, maxUploadBytes: MAX });
});
t.after(async ({ fx }) => fx.close());

const octet = { 'content-type': 'application/octet-stream' };
const upload = (fx: Fixture, payload: Buffer | Readable, headers: Record<string, string>, query = 'name=clip.bin') =>
  fx.gateway.app.inject({ method: 'POST', url: `/videos?${query}`, headers: { ...octet, ...headers }, payload });

t('without the admin token → 401; with a wrong one → 401; nothing is staged', async ({ fx }) => {
  const body = randomBytes(1000);
  const none = await upload(fx, body, {});
  assert.is(none.statusCode, 401);
  assert.is(errorCode(none), 'unauthorized');
  const wrong = await upload(fx, body, { authorization: 'Bearer not-the-token' });
  assert.is(wrong.statusCode, 401);
  const wrongX = await upload(fx, body, { 'x-admin-token': fx.adminToken.slice(1) });
  assert.is(wrongX.statusCode, 401);
  assert.equal(fx.stagedFiles(), []);
});

t('a gateway without an admin token refuses uploads with 403', async ({ fx }) => {
  const g = await fx.gatewayWith({ adminToken: undefined });
  const res = await g.app.inject({ method: 'POST', url: '/videos?name=x', headers: { ...octet, authorization: 'Bearer x' },
    payload: randomBytes(10) });
  assert.is(res.statusCode, 403);
  assert.is(errorCode(res), 'unauthorized');
});

t('upload → 201 with the manifest; the video is listed and its chunks serve the uploaded bytes', async ({ fx }) => {
  // no 0xFF byte: random bytes now and then hold MPEG audio frame syncs, and ffprobe then takes them for a video
  const bytes = Buffer.from(randomBytes(300 * 1024 + 5).map((b) => (b === 0xff ? 0 : b)));
  const res = await upload(fx, bytes, { authorization: `Bearer ${fx.adminToken}` }, 'name=clip.bin&chunkSize=65536');
  assert.is(res.statusCode, 201, res.body);
  const { manifest, warnings } = res.json() as { manifest: Manifest; warnings: string[] };
  assert.ok(Array.isArray(warnings));
  assert.is(manifest.name, 'clip.bin');
  assert.is(manifest.size, bytes.byteLength);
  assert.is(manifest.chunkSize, 65536);
  assert.is(manifest.chunks.length, 5);
  assert.is(manifest.chunks[0], sha256Hex(bytes.subarray(0, 65536)));
  assert.equal(fx.stagedFiles(), [], 'the worker removed the staged file');

  const list = (await fx.gateway.app.inject({ url: '/videos' })).json() as { videos: Array<{ videoId: string }> };
  assert.ok(list.videos.some((v) => v.videoId === manifest.videoId));
  const open = await fx.client.open(manifest.videoId, 'uploader');
  assert.is(open.status, 'granted');
  if (open.status !== 'granted') return;
  const last = await fx.gateway.app.inject({ url: `/videos/${manifest.videoId}/chunks/4`,
    headers: { authorization: `Bearer ${open.grant}` } });
  assert.is(last.statusCode, 200);
  assert.ok(bytes.subarray(4 * 65536).equals(last.rawPayload));
  await fx.client.release(open.sessionId, 'uploader');
});

t('X-Admin-Token works too, and a streamed body without Content-Length is accepted', async ({ fx }) => {
  const parts = [randomBytes(40 * 1024), randomBytes(30 * 1024)];
  const res = await upload(fx, Readable.from(parts), { 'x-admin-token': fx.adminToken }, 'name=streamed');
  assert.is(res.statusCode, 201, res.body);
  const { manifest } = res.json() as { manifest: Manifest };
  assert.is(manifest.size, 70 * 1024);
  assert.is(manifest.name, 'streamed');
});

t('too large by Content-Length → 413 before reading; staging dir stays empty', async ({ fx }) => {
  const res = await upload(fx, randomBytes(MAX + 1), { authorization: `Bearer ${fx.adminToken}` });
  assert.is(res.statusCode, 413);
  assert.is(errorCode(res), 'too_large');
  assert.is(res.headers.connection, 'close');
  assert.equal(fx.stagedFiles(), []);
});

t('too large while streaming (no Content-Length) → 413 and the partial file is deleted', async ({ fx }) => {
  const chunks = Array.from({ length: 20 }, () => randomBytes(100 * 1024));
  const res = await upload(fx, Readable.from(chunks), { authorization: `Bearer ${fx.adminToken}` });
  assert.is(res.statusCode, 413);
  assert.is(errorCode(res), 'too_large');
  assert.match(res.body, `exceeds the limit of ${MAX} bytes`);
  assert.not.match(res.body, 'upload of', 'refused while streaming, not by Content-Length');
  assert.equal(fx.stagedFiles(), []);
});

t('empty body → 400; JSON body → 415; missing name or bad chunkSize → 400', async ({ fx }) => {
  const auth = { authorization: `Bearer ${fx.adminToken}` };
  const empty = await upload(fx, Buffer.alloc(0), auth);
  assert.is(empty.statusCode, 400);
  assert.is(errorCode(empty), 'bad_request');
  const json = await fx.gateway.app.inject({ method: 'POST', url: '/videos?name=x',
    headers: { ...auth, 'content-type': 'application/json' }, payload: '{}' });
  assert.is(json.statusCode, 415);
  assert.is(errorCode(json), 'bad_request');
  assert.is((await upload(fx, randomBytes(10), auth, '')).statusCode, 400);
  assert.is((await upload(fx, randomBytes(10), auth, 'name=x&chunkSize=12')).statusCode, 400);
  assert.equal(fx.stagedFiles(), []);
});

t('the gateway still answers /healthz', async ({ fx }) => {
  assert.is((await fx.gateway.app.inject({ url: '/healthz' })).statusCode, 200);
});

t.run();
