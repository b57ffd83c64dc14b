/** The fluid-model bounds (lib/bounds.ts), against hand-computed cases. Pure. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { egressBound, fluidBounds } from '../../lib/bounds.js';

const MiB = 1024 * 1024;
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('the benchmark defaults: N=10, F=32 MiB, u_s=4 MiB/s, u_i=1 MiB/s', () => {
  const b = fluidBounds({ N: 10, F: 32 * MiB, us: 4 * MiB, ui: 1 * MiB });
  // D_cs = N·F/u_s = 320/4; D_p2p = max(F/u_s = 8, N·F/(u_s + Σu_i) = 320/14)
  close(b.D_cs, 80, 'D_cs');
  close(b.D_p2p, 320 / 14, 'D_p2p');
  assert.is(Math.round(b.D_p2p * 1000) / 1000, 22.857);
});

test('a per-peer list of uploads is the same as one figure for all', () => {
  const one = fluidBounds({ N: 10, F: 32 * MiB, us: 4 * MiB, ui: 1 * MiB });
  const list = fluidBounds({ N: 10, F: 32 * MiB, us: 4 * MiB, ui: new Array<number>(10).fill(1 * MiB) });
  assert.equal(list, one);
});

test('a fast origin: F/u_s is the p2p bound only when the swarm adds nothing', () => {
  // N=3, F=6, u_s=1, u_i = 0, 1, 2: N·F/(u_s+Σu_i) = 18/4 = 4.5 < F/u_s = 6
  let b = fluidBounds({ N: 3, F: 6, us: 1, ui: [0, 1, 2] });
  close(b.D_p2p, 6, 'D_p2p = F/u_s');
  close(b.D_cs, 18, 'D_cs = N·F/u_s');
  // N=4, F=8, u_s=100, u_i=1 each: F/u_s = 0.08, N·F/(u_s+Σu_i) = 32/104
  b = fluidBounds({ N: 4, F: 8, us: 100, ui: 1 });
  close(b.D_p2p, 32 / 104, 'D_p2p');
  close(b.D_cs, 0.32, 'D_cs');
});

test('one peer: both bounds are F/u_s', () => {
  const b = fluidBounds({ N: 1, F: 10, us: 2, ui: 5 });
  close(b.D_p2p, 5, 'D_p2p');
  close(b.D_cs, 5, 'D_cs');
});

test('d_min: the slowest download can dominate either bound', () => {
  const base = { N: 10, F: 32 * MiB, us: 4 * MiB, ui: 1 * MiB };
  // F/d_min = 64 s: above 22.857 (p2p) but below 80 (cs)
  let b = fluidBounds({ ...base, dmin: 0.5 * MiB });
  close(b.D_p2p, 64, 'D_p2p = F/d_min');
  close(b.D_cs, 80, 'D_cs unchanged');
  // F/d_min = 128 s dominates both
  b = fluidBounds({ ...base, dmin: 0.25 * MiB });
  close(b.D_p2p, 128, 'D_p2p');
  close(b.D_cs, 128, 'D_cs');
  // a generous cap changes nothing; no cap = Infinity
  assert.equal(fluidBounds({ ...base, dmin: 100 * MiB }), fluidBounds(base));
  assert.equal(fluidBounds({ ...base, dmin: Infinity }), fluidBounds(base));
});

test('egress frontier: (N−1)·F/Σu_i at one copy, D_p2p from e* = N·u_s/(u_s+Σu_i) on, monotone between', () => {
  const p = { N: 10, F: 32 * MiB, us: 4 * MiB, ui: 1 * MiB };
  const dp2p = fluidBounds(p).D_p2p;
  close(egressBound(p, 1), 28.8, 'one copy: 9 F over 10 MiB/s');
  assert.ok(Math.abs(egressBound(p, 1) / dp2p - 1.26) < 0.005, 'the issue\'s 1.26');
  assert.ok(Math.abs(egressBound({ ...p, N: 20 }, 1) / fluidBounds({ ...p, N: 20 }).D_p2p - 1.14) < 0.005, 'N = 20: 1.14');
  const eStar = (10 * 4) / 14;
  close(egressBound(p, eStar), dp2p, 'e* meets D_p2p');
  close(egressBound(p, 5), dp2p, 'more egress buys nothing');
  let prev = Infinity;
  for (let e = 1; e <= 4; e += 0.25) {
    const d = egressBound(p, e);
    assert.ok(d <= prev + 1e-9 && d >= dp2p - 1e-9, `e=${e}: ${d}`);
    prev = d;
  }
  assert.throws(() => egressBound(p, 0.5), /e ≥ 1/);
});

test('bad parameters are refused', () => {
  assert.throws(() => fluidBounds({ N: 3, F: 1, us: 1, ui: [1, 1] }), /ui has 2 entries/);
  assert.throws(() => fluidBounds({ N: 0, F: 1, us: 1, ui: 1 }));
  assert.throws(() => fluidBounds({ N: 1, F: 1, us: 0, ui: 1 }));
  assert.throws(() => fluidBounds({ N: 1, F: 1, us: 1, ui: -1 }));
  assert.throws(() => fluidBounds({ N: 1, F: 1, us: 1, ui: 1, dmin: 0 }));
});

test.run();
