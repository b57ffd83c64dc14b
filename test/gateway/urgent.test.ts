/**
 * Units of the urgent share: grant kinds (an urgent grant is never a slot grant and the reverse), and the
 * gateway's reserved token bucket with per-grant byte budgets, on a fake clock.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createUrgentShare } from '../../gateway/urgent.js';
import { signGrant, verifyGrant } from '../../lib/hash.js';
import { GrantError, URGENT_KIND, type GrantClaims } from '../../protocol/mod.js';

const SECRET = 'k'.repeat(32);
const slot: GrantClaims = { v: 'v1', p: 'p1', s: 's1', n: 0, exp: 10_000 };
const urgent: GrantClaims = { v: 'v1', p: 'p1', s: 's1', n: -1, exp: 10_000, k: URGENT_KIND, c: [3, 4], b: 2000 };
const codeOf = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (e) {
    return e instanceof GrantError ? e.code : String(e);
  }
};

test('grant kinds: each route accepts only its own kind; the kind is signed', () => {
  const s = signGrant(slot, SECRET);
  const u = signGrant(urgent, SECRET);
  assert.is(codeOf(() => verifyGrant(s, SECRET, { now: 0 })), 'accepted');
  assert.is(codeOf(() => verifyGrant(u, SECRET, { now: 0 })), 'grant_wrong_kind', 'urgent grant as a slot grant');
  assert.is(codeOf(() => verifyGrant(s, SECRET, { now: 0, kind: 'urgent' })), 'grant_wrong_kind', 'slot grant as urgent');
  assert.equal(verifyGrant(u, SECRET, { now: 0, kind: 'urgent' }).c, [3, 4]);
  assert.is(codeOf(() => verifyGrant(u, SECRET, { now: 0, kind: 'any' })), 'accepted');
  // stripping the kind from an urgent grant's payload breaks its signature
  const [payload, sig] = u.split('.') as [string, string];
  const forged = Buffer.from(JSON.stringify({ ...urgent, k: undefined }), 'utf8').toString('base64url');
  assert.is(codeOf(() => verifyGrant(`${forged}.${sig}`, SECRET, { now: 0 })), 'grant_invalid');
  assert.ok(payload.length > 0);
  // an urgent grant without its chunk list or budget is incomplete
  const partial = signGrant({ ...slot, k: URGENT_KIND }, SECRET);
  assert.is(codeOf(() => verifyGrant(partial, SECRET, { now: 0, kind: 'urgent' })), 'grant_invalid');
});

test('urgent share: a bucket that never waits, per-grant budgets, 0 disables', () => {
  let now = 0;
  const share = createUrgentShare({ bps: 1000, now: () => now });
  const code = (f: () => void) => {
    try {
      f();
      return 'ok';
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };
  const g1 = { ...urgent, b: 5000 };
  assert.is(code(() => share.admit(g1, 600)), 'ok');
  assert.is(code(() => share.admit(g1, 600)), 'ok', 'a token left: the chunk may overdraw the bucket');
  assert.is(code(() => share.admit(g1, 600)), 'urgent_share_spent', 'spent until it refills');
  now += 300; // 300 bytes back: still in debt (1000 - 1200 + 300 = 100 > 0 → one more)
  assert.is(code(() => share.admit(g1, 100)), 'ok');
  now += 5000;
  const g2 = { ...urgent, s: 's2', b: 700 };
  assert.is(code(() => share.admit(g2, 600)), 'ok');
  assert.is(code(() => share.admit(g2, 600)), 'quota_exceeded', 'beyond the grant\'s own bytes');
  share.refund(g2, 600);
  assert.is(code(() => share.admit(g2, 600)), 'ok', 'a response that never left is given back');
  const off = createUrgentShare({ bps: 0 });
  assert.is(code(() => off.admit(g2, 1)), 'urgent_share_spent');
});

test.run();
