/**
 * The player server of `switchyard play` in-process, over a real `.part` directory and real HTTP: Range parsing,
 * bytes that leave as chunks arrive, the playhead told on waits, bounded waits, overload and abandoned requests.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openPartial } from '../../client/partial.js';
import { parseRange } from '../../client/play/range.js';
import { createPlayServer } from '../../client/play/server.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { silentLogger } from '../../lib/logger.js';
import { waitFor } from '../helpers/env.js';
import { rawRequest as raw } from '../helpers/http.js';

const CHUNK = 64 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const ranges = suite('play: Range header parsing');

ranges('the three single-range forms, clamped to the file', () => {
  assert.equal(parseRange(undefined, 100), { kind: 'whole' });
  assert.equal(parseRange('bytes=0-9', 100), { kind: 'range', start: 0, end: 9 });
  assert.equal(parseRange('bytes=90-', 100), { kind: 'range', start: 90, end: 99 });
  assert.equal(parseRange('bytes=90-500', 100), { kind: 'range', start: 90, end: 99 });
  assert.equal(parseRange('bytes=-10', 100), { kind: 'range', start: 90, end: 99 });
  assert.equal(parseRange('bytes=-500', 100), { kind: 'range', start: 0, end: 99 });
  assert.equal(parseRange('bytes=99-99', 100), { kind: 'range', start: 99, end: 99 });
});

ranges('unsatisfiable, malformed and multi-range are all 416', () => {
  for (const h of ['bytes=100-', 'bytes=100-200', 'bytes=5-2', 'bytes=-0', 'bytes=-', 'bytes=0-1,5-6', 'items=0-1',
    'bytes=abc', 'bytes=99999999999999999-', `bytes=0-${'9'.repeat(300)}`]) {
    assert.equal(parseRange(h, 100), { kind: 'unsatisfiable' }, h);
  }
});

ranges.run();

const srv = suite('play: the server follows a partial download (in-process, real files and HTTP)');

srv('bytes stream as chunks arrive, waits tell the playhead, stalls and overload are bounded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-playsrv-'));
  const bytes = new Uint8Array(4 * CHUNK + 123).map((_, i) => (i * 31 + 7) & 0xff);
  const chunks: string[] = [];
  for (let off = 0; off < bytes.byteLength; off += CHUNK) chunks.push(sha256Hex(bytes.subarray(off, off + CHUNK)));
  const m = buildManifest({ name: 'x.bin', mime: 'application/octet-stream', size: bytes.byteLength, chunkSize: CHUNK, chunks });
  const partial = await openPartial(join(dir, 'x.part'), m);
  const put = (i: number) => partial.writeChunk(i, bytes.subarray(i * CHUNK, (i + 1) * CHUNK));
  const playheads: number[] = [];
  const server = createPlayServer({ maxRequests: 2, stallMs: 1500 },
    { partial, logger: silentLogger, onPlayhead: (i) => playheads.push(i) });
  const { port } = await server.start();
  const path = `/${m.videoId}.bin`;
  try {
    // nothing arrives: 503 after the bounded wait, not a hang
    const stalled = await raw(port, path, { headers: { Range: 'bytes=10-20' } });
    assert.is(stalled.status, 503);
    assert.ok(playheads.includes(0), `playhead told: ${playheads}`);
    assert.is(server.stats().active, 0);

    // chunk 0 present: the head and its bytes go out while chunk 1 is still missing
    await put(0);
    const got: Buffer[] = [];
    let status = 0;
    const ended = new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers: { Range: `bytes=100-${2 * CHUNK + 99}` } }, (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (b: Buffer) => got.push(b));
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    await waitFor(() => got.reduce((a, b) => a + b.byteLength, 0) === CHUNK - 100, 'the first chunk\'s bytes');
    assert.is(status, 206);
    await waitFor(() => playheads.includes(1), 'the playhead moved to the missing chunk');
    // two requests in progress at most: a third is refused at once
    const second = raw(port, path, { headers: { Range: `bytes=${3 * CHUNK}-${3 * CHUNK + 10}` } });
    await waitFor(() => server.stats().active === 2, 'two requests waiting');
    const refused = await raw(port, path, { headers: { Range: 'bytes=0-10' } });
    assert.is(refused.status, 503);
    assert.is(refused.headers['retry-after'], '1');
    await put(1);
    await put(2);
    await put(3);
    await ended;
    assert.is(sha(Buffer.concat(got)), sha(bytes.subarray(100, 2 * CHUNK + 100)));
    const s = await second;
    assert.is(s.status, 206);
    assert.is(sha(s.body), sha(bytes.subarray(3 * CHUNK, 3 * CHUNK + 11)));

    // a player that goes away stops its response's wait at once
    const gone = request({ host: '127.0.0.1', port, path, headers: { Range: `bytes=${4 * CHUNK}-` } });
    gone.on('error', () => {});
    gone.end();
    await waitFor(() => server.stats().active === 1, 'the request waiting for chunk 4');
    gone.destroy();
    await waitFor(() => server.stats().active === 0, 'the abandoned request ended', 1000);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

srv.run();

