import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bearerToken, createManifestCache, createStatsCollector, grantToken, indexOutOfRange, requireAdmin, safeEqual,
  statusFor, withStatus,
} from '../../gateway/mod.js';
import {
  ErrorCodes, GrantError, SwitchyardError, UnauthorizedError, UnknownVideoError, type ErrorCode, type Manifest,
} from '../../protocol/mod.js';
import { buildManifest } from '../../lib/hash.js';

test('status table: every protocol code has a deliberate status', () => {
  const expected: Record<ErrorCode, number> = {
    bad_request: 400, not_found: 404, bad_index: 400, bad_range: 416, bad_frame: 400, too_large: 413, unknown_video: 404, unknown_session: 404,
    grant_missing: 401, grant_invalid: 401, unauthorized: 401, grant_expired: 403, grant_wrong_video: 403,
    lease_lost: 403, ingest_failed: 422, chunk_missing: 503, unavailable: 503, timeout: 504, chunk_corrupt: 500, chunk_in_swarm: 409,
    rate_limited: 429, quota_exceeded: 429, internal: 500, locked: 409, bad_manifest: 500,
    grant_wrong_kind: 403, urgent_refused: 429, urgent_share_spent: 429,
  };
  for (const code of Object.values(ErrorCodes)) {
    assert.is(statusFor(new SwitchyardError(code, 'x')), expected[code], code);
  }
  assert.is(statusFor(indexOutOfRange(7, 3)), 404);
  assert.is(indexOutOfRange(7, 3).code, 'bad_index');
  assert.is(statusFor(withStatus(new UnauthorizedError('disabled'), 403)), 403);
});

test('bearerToken / grantToken: header preferred, query as fallback, other schemes refused', () => {
  assert.is(bearerToken({}), undefined);
  assert.is(bearerToken({ authorization: 'Bearer abc.def' }), 'abc.def');
  assert.is(bearerToken({ authorization: 'bearer   abc' }), 'abc');
  assert.is(bearerToken({ authorization: 'Basic abc' }), '');
  assert.is(grantToken({ authorization: 'Bearer h' }, { grant: 'q' }), 'h');
  assert.is(grantToken({}, { grant: 'q' }), 'q');
  assert.is(grantToken({}, {}), undefined);
  assert.throws(() => grantToken({ authorization: 'Token x' }, {}), (e: unknown) => e instanceof GrantError && e.code === 'grant_invalid');
});

test('admin token: constant-time compare over hashes; Bearer or X-Admin-Token', () => {
  assert.ok(safeEqual('secret', 'secret'));
  assert.not.ok(safeEqual('secret', 'secreT'));
  assert.not.ok(safeEqual('secret', 'secret-longer'));
  requireAdmin({ authorization: 'Bearer tok' }, 'tok');
  requireAdmin({ 'x-admin-token': 'tok' }, 'tok');
  assert.throws(() => requireAdmin({}, 'tok'), (e: unknown) => e instanceof UnauthorizedError);
  assert.throws(() => requireAdmin({ 'x-admin-token': 'nope' }, 'tok'), (e: unknown) => e instanceof UnauthorizedError);
});

test('stats: per-session bytes are bounded, least recently served forgotten first; Prometheus text', () => {
  const s = createStatsCollector({ maxSessions: 2 });
  s.chunkServed('a', 10);
  s.chunkServed('b', 20);
  s.chunkServed('a', 5);
  s.chunkServed('c', 1);
  const snap = s.snapshot();
  assert.equal(snap.bytesBySession, { a: 15, c: 1 });
  assert.is(snap.chunkBytesTotal, 36);
  s.responded(200);
  s.responded(200);
  s.responded(404);
  assert.equal(s.snapshot().requestsByStatus, { 200: 2, 404: 1 });
  const text = s.prometheus(3);
  assert.match(text, /^switchyard_gateway_chunk_bytes_total 36$/m);
  assert.match(text, /^switchyard_gateway_requests_total\{status="200"\} 2$/m);
  assert.match(text, /^switchyard_gateway_active_leases 3$/m);
  assert.ok(text.endsWith('\n'));
});

function manifestOf(n: number, name: string): Manifest {
  const chunks = Array.from({ length: n }, (_, i) => (i.toString(16) + name.length.toString(16)).padStart(64, '0'));
  return buildManifest({ name, mime: 'application/octet-stream', size: n * 16384, chunkSize: 16384, chunks });
}

test('manifest cache: one catalog request for concurrent misses; misses are not cached; bounded by chunks', async () => {
  const all = new Map<string, Manifest>();
  for (const [n, name] of [[3, 'a'], [3, 'bb'], [3, 'ccc']] as const) {
    const m = manifestOf(n, name);
    all.set(m.videoId, m);
  }
  const calls: string[] = [];
  const cache = createManifestCache({
    manifest: async (id) => {
      calls.push(id);
      await new Promise((r) => setTimeout(r, 5));
      const m = all.get(id);
      if (!m) throw new UnknownVideoError(id);
      return m;
    },
  }, { maxChunks: 6 });
  const [a, b, c] = [...all.keys()] as [string, string, string];
  await Promise.all([cache.get(a), cache.get(a), cache.get(a)]);
  assert.equal(calls, [a]);
  await cache.get(a);
  assert.equal(calls, [a]);
  await cache.get(b);
  await cache.get(c);
  assert.is(cache.size, 2, 'third manifest evicts the least recently used');
  await cache.get(a);
  assert.equal(calls, [a, b, c, a]);
  for (let i = 0; i < 2; i++) {
    try {
      await cache.get('vmissing');
      assert.unreachable();
    } catch (e) {
      assert.is((e as SwitchyardError).code, 'unknown_video');
    }
  }
  assert.is(calls.filter((x) => x === 'vmissing').length, 2);
});

test.run();
