/**
 * Diagram export: the DOT and Mermaid text name every state and the transitions that make the product (server →
 * p2p → resumeServer), and Graphviz renders the DOT without complaint.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMachine } from 'xstate';
import { getStateNodes } from '@xstate/graph';
import { downloadMachine, machineToDot, machineToMermaid } from '../../machines/mod.js';

const DOT = '/usr/bin/dot';
const dot = machineToDot(downloadMachine);
const mermaid = machineToMermaid(downloadMachine);

const STATES = [
  'opening', 'openBackoff', 'active', 'active.server', 'active.p2p', 'active.resumeServer', 'active.peersOnly',
  'assembling', 'releasing', 'complete', 'failed', 'cancelled',
];

const edge = (from: string, to: string, label: string) =>
  new RegExp(`"download\\.${from.replace(/\./g, '\\.')}" -> "download\\.${to.replace(/\./g, '\\.')}" \\[label="${label.replace(/[.*[\]()]/g, '\\$&')}`);

function render(text: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(DOT, ['-Tsvg'], { input: text, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('DOT names every state node of the machine', () => {
  assert.ok(dot.startsWith('digraph "download" {'));
  const ids = getStateNodes(downloadMachine.root).map((s) => s.id);
  assert.equal(ids.map((id) => id.replace(/^download\./, '')).sort(), [...STATES].sort());
  for (const id of ids) assert.ok(dot.includes(`"${id}"`), `missing ${id}`);
  assert.ok(dot.includes('subgraph "cluster_download.active"'), 'active is a cluster');
  for (const f of ['complete', 'failed', 'cancelled']) assert.ok(dot.includes(`"download.${f}" [label="${f}", peripheries=2]`));
});

test('DOT has the key transitions, labelled with their event type', () => {
  const expected: Array<[string, string, string]> = [
    ['opening', 'active.server', 'xstate.done.actor.openSession [isGranted]'],
    // the origin's policy decides whether an admitted client also uses peers
    ['opening', 'active.server', 'xstate.done.actor.openSession [and(isGranted, isSwarmAware)]'],
    ['opening', 'active.p2p', 'xstate.done.actor.openSession'],
    ['opening', 'assembling', 'xstate.done.actor.openSession [coversEveryChunk]'],
    ['opening', 'failed', 'xstate.error.actor.openSession'],
    ['opening', 'cancelled', 'download.cancel'],
    ['active.server', 'active.p2p', 'origin.leaseLost'],
    // fetch children resolve with a result: success and every failure arrive as their done event
    ['active.server', 'active.p2p', 'xstate.done.actor.fetch.* [isDeniedFetch]'],
    ['active.server', 'releasing', 'xstate.done.actor.fetch.* [isLastAttempt]'],
    ['active.server', 'active.server', 'xstate.done.actor.fetch.* [isFetchedChunk]'],
    // streaming: a seek re-plans, urgent fetches run without a slot
    ['active', 'active', 'playback.playhead [isSeek]'],
    ['active', 'active', 'xstate.done.actor.urgent.* [isUrgentChunk]'],
    // raw heartbeat answers, read against the machine's own state
    ['active', 'active', 'origin.heartbeat [and(isGrantedBeat, holdsSlot)]'],
    ['active.p2p', 'active.resumeServer', 'origin.slotOffered'],
    ['active.resumeServer', 'active.p2p', 'origin.leaseLost'],
    ['active', 'assembling', 'always [hasEveryChunk]'],
    ['active', 'releasing', 'download.cancel'],
    ['assembling', 'releasing', 'xstate.done.actor.assemble'],
    ['releasing', 'complete', 'xstate.done.actor.releaseSession [outcomeIs(complete)]'],
    ['releasing', 'cancelled', 'xstate.error.actor.releaseSession [outcomeIs(cancelled)]'],
    ['releasing', 'failed', 'after releaseTimeout'],
  ];
  for (const [from, to, label] of expected) assert.match(dot, edge(from, to, label), `${from} -> ${to} on ${label}`);
  assert.ok(dot.includes('"download" -> "download.opening";'), 'initial state');
  assert.ok(dot.includes('"download.active" -> "download.active.server";'), 'initial child of active');
  assert.match(dot, /"download\.active" -> "download\.releasing" \[[^\]]*ltail="cluster_download\.active"/);
});

test('Mermaid stateDiagram-v2 has every state and the key transitions', () => {
  const lines = mermaid.split('\n');
  assert.is(lines[0], 'stateDiagram-v2');
  assert.ok(lines.includes('  [*] --> opening'));
  assert.ok(lines.includes('  state "active" as active {'));
  assert.ok(lines.includes('    [*] --> active_server'));
  for (const s of STATES) assert.ok(mermaid.includes(` as ${s.replace('.', '_')}`), `missing ${s}`);
  for (const f of ['complete', 'failed', 'cancelled']) assert.ok(lines.includes(`  ${f} --> [*]`));
  assert.ok(lines.includes('  active_p2p --> active_resumeServer : origin.slotOffered'));
  assert.ok(lines.includes('  active_server --> active_p2p : origin.leaseLost'));
  assert.ok(lines.includes('  opening --> active_server : xstate.done.actor.openSession [isGranted]'));
  assert.ok(lines.includes('  active --> assembling : always [hasEveryChunk]'));
});

const hasDot = existsSync(DOT);

test('dot -Tsvg renders the download machine', () => {
  if (!hasDot) return;
  const r = render(dot);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr.trim(), '', 'no Graphviz warnings');
  assert.match(r.stdout, /<svg/);
  assert.ok(r.stdout.includes('resumeServer'));
});

test('dot -Tsvg renders a machine with parallel and nested compound states and awkward names', () => {
  const m = createMachine({
    id: 'toy "q"',
    initial: 'a',
    states: {
      a: { on: { 'go.on': 'p', stay: {} }, after: { 100: 'b' } },
      b: { initial: 'x', states: { x: { on: { next: 'y' } }, y: { initial: 'deep', states: { deep: {} } } }, on: { up: 'a' } },
      p: { type: 'parallel', states: { l: {}, r: {} }, on: { 'to.b': '#toy "q".b.y' } },
    },
  });
  const text = machineToDot(m);
  assert.ok(text.includes('"toy \\"q\\".b.y.deep"'));
  assert.ok(machineToMermaid(m).includes('b_y_deep'));
  if (!hasDot) return;
  const r = render(text);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /<svg/);
});

test.run();
