/**
 * bench/lib/cpu.ts: the machine's CPU counters and the share stolen by a hypervisor between two readings, which
 * bench:swarm prints as `cpu_steal` beside its timings.
 */
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { machineCpu, stealBetween } from '../../bench/lib/cpu.js';

test('stealBetween: the stolen share of the time that passed; null when it cannot say', () => {
  assert.is(stealBetween({ total: 1000, steal: 10 }, { total: 3000, steal: 110 }), 0.05);
  assert.is(stealBetween({ total: 1000, steal: 10 }, { total: 1000, steal: 10 }), null); // no time passed
  assert.is(stealBetween(null, { total: 3000, steal: 110 }), null);
  assert.is(stealBetween({ total: 1000, steal: 10 }, null), null);
});

test('machineCpu: counters that only grow, steal a part of the total (Linux); null elsewhere', async () => {
  const a = machineCpu();
  if (!existsSync('/proc/stat')) {
    assert.is(a, null);
    return;
  }
  assert.ok(a !== null, '/proc/stat exists but was not read');
  assert.ok(a.total > 0 && a.steal >= 0 && a.steal <= a.total, JSON.stringify(a));
  const until = Date.now() + 50;
  while (Date.now() < until); // some CPU time passes
  const b = machineCpu()!;
  assert.ok(b.total > a.total && b.steal >= a.steal, JSON.stringify({ a, b }));
  const s = stealBetween(a, b)!;
  assert.ok(s >= 0 && s <= 1, String(s));
});

test.run();
