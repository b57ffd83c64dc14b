/**
 * lib/slicer.ts: queued work runs in order, at most its budget of loop time per turn, with other work free to run
 * between two turns; a full queue refuses instead of growing; a failing task does not stop the ones behind it;
 * with lanes, an earlier lane's work goes first.
 * The turns and the clock are the test's own, so what one turn ran is exact, not timed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../../lib/logger.js';
import { createSlicer } from '../../lib/slicer.js';

/** A slicer whose turns run only when the test says, on a clock each task advances by `costMs`. */
function harness(init: { budgetMs?: number; maxQueued?: number; lanes?: number }) {
  const turns: Array<() => void> = [];
  let clock = 0;
  const warnings: string[] = [];
  const logger = createLogger('slicer-test', 'warn', (line) => warnings.push(line));
  const slicer = createSlicer(init, { defer: (fn) => turns.push(fn), now: () => clock, logger });
  const ran: number[] = [];
  const task = (id: number, costMs: number) => () => {
    clock += costMs;
    ran.push(id);
  };
  /** runs the next scheduled turn; returns the tasks it ran */
  const turn = () => {
    const before = ran.length;
    turns.shift()!();
    return ran.slice(before);
  };
  return { slicer, task, turn, ran, turns, warnings };
}

test('tasks run in order, a turn stops once its budget is spent, the rest wait for the next turn', () => {
  const h = harness({ budgetMs: 3 });
  for (let i = 0; i < 5; i++) assert.ok(h.slicer.run(h.task(i, 2)));
  assert.is(h.ran.length, 0, 'nothing runs synchronously');
  assert.is(h.turns.length, 1, 'one turn scheduled for the whole queue');
  assert.equal(h.turn(), [0, 1], '2 + 2 ms reach the 3 ms budget');
  assert.is(h.slicer.queued, 3);
  assert.equal(h.turn(), [2, 3]);
  assert.equal(h.turn(), [4]);
  assert.is(h.turns.length, 0, 'an empty queue schedules no further turn');
  assert.is(h.slicer.queued, 0);
});

test('a task longer than the budget still runs whole, alone in its turn', () => {
  const h = harness({ budgetMs: 3 });
  h.slicer.run(h.task(0, 10));
  h.slicer.run(h.task(1, 1));
  assert.equal(h.turn(), [0]);
  assert.equal(h.turn(), [1]);
});

test('work queued during a turn runs behind what was already waiting', () => {
  const h = harness({ budgetMs: 100 });
  h.slicer.run(() => {
    h.ran.push(0);
    h.slicer.run(h.task(2, 1));
  });
  h.slicer.run(h.task(1, 1));
  assert.equal(h.turn(), [0, 1, 2]);
});

test('a full queue refuses: the task never runs and nothing waiting is lost', () => {
  const h = harness({ budgetMs: 100, maxQueued: 2 });
  assert.ok(h.slicer.run(h.task(0, 1)));
  assert.ok(h.slicer.run(h.task(1, 1)));
  assert.not.ok(h.slicer.run(h.task(2, 1)));
  assert.equal(h.turn(), [0, 1]);
  assert.ok(h.slicer.run(h.task(3, 1)), 'room again once the queue ran');
  assert.equal(h.turn(), [3]);
});

test('a task that throws is logged and the ones behind it still run', () => {
  const h = harness({ budgetMs: 100 });
  h.slicer.run(() => {
    throw new Error('boom');
  });
  h.slicer.run(h.task(1, 1));
  assert.equal(h.turn(), [1]);
  assert.is(h.warnings.length, 1);
  assert.match(h.warnings[0]!, /sliced task failed.*boom/);
});

test('clear drops the waiting tasks; later work runs normally', () => {
  const h = harness({ budgetMs: 3 });
  for (let i = 0; i < 4; i++) h.slicer.run(h.task(i, 2));
  assert.equal(h.turn(), [0, 1]);
  h.slicer.clear();
  assert.is(h.slicer.queued, 0);
  while (h.turns.length > 0) h.turn();
  assert.equal(h.ran, [0, 1], 'the cleared tasks never ran');
  h.slicer.run(h.task(9, 1));
  while (h.turns.length > 0) h.turn();
  assert.equal(h.ran, [0, 1, 9]);
});

test('lanes: a turn takes from the first lane with work, each lane in order, the budget across them all', () => {
  const h = harness({ budgetMs: 3, lanes: 3 });
  h.slicer.run(h.task(20, 1), 2);
  h.slicer.run(h.task(21, 1), 2);
  h.slicer.run(h.task(10, 1), 1);
  h.slicer.run(h.task(0, 1), 0);
  assert.is(h.slicer.queued, 4);
  assert.equal(h.turn(), [0, 10, 20], 'lane 0, then 1, then 2, until the 3 ms budget');
  h.slicer.run(h.task(1, 1), 0); // comes after 21 but goes before it
  h.slicer.run(h.task(22, 1)); // no lane: the last
  assert.equal(h.turn(), [1, 21, 22]);
  assert.is(h.turns.length, 0);
});

test('lanes: a lane past the last counts as the last; with one lane every task is in order; the limit is shared', () => {
  const one = harness({ budgetMs: 100 });
  one.slicer.run(one.task(0, 1), 2);
  one.slicer.run(one.task(1, 1), 0);
  assert.equal(one.turn(), [0, 1]);
  const h = harness({ budgetMs: 100, lanes: 2, maxQueued: 2 });
  assert.ok(h.slicer.run(h.task(10, 1), 5));
  assert.ok(h.slicer.run(h.task(0, 1), 0));
  assert.not.ok(h.slicer.run(h.task(1, 1), 0), 'two waiting in all: full, whatever the lane');
  assert.equal(h.turn(), [0, 10]);
});

test('with the default turn (setImmediate), queued work runs after I/O-free code and in order', async () => {
  const slicer = createSlicer({}, { logger: createLogger('slicer-test', 'silent') });
  const ran: number[] = [];
  for (let i = 0; i < 50; i++) slicer.run(() => ran.push(i));
  ran.push(-1);
  await new Promise((r) => setTimeout(r, 20));
  assert.is(ran[0], -1, 'nothing ran synchronously');
  assert.equal(ran.slice(1), Array.from({ length: 50 }, (_, i) => i));
});

test.run();
