/**
 * No import cycles anywhere in our sources: a cycle makes load order decide which module sees the other's
 * bindings as undefined, and it ties layers that should stack (protocol under machines under actors, ...).
 * Type-only imports count too: a type file today is a value file tomorrow. Relative imports only (packages
 * cannot import us back).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot as root, sources, specifiers, stripComments } from '../helpers/sources.js';

const DIRS = ['api', 'protocol', 'lib', 'store', 'infra', 'actors', 'machines', 'gateway', 'client', 'web', 'bench', 'test'];

/** module → the modules it imports, both as paths relative to the repository root */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of DIRS.flatMap((d) => (existsSync(join(root, d)) ? sources(join(root, d)) : []))) {
    const deps = specifiers(stripComments(readFileSync(file, 'utf8')))
      .filter((s) => s.startsWith('.'))
      .map((s) => relative(root, resolve(dirname(file), s).replace(/\.js$/, '.ts')));
    graph.set(relative(root, file), deps);
  }
  return graph;
}

/** Each cycle found by a depth-first walk, as the path that closes it (`a → b → a`). */
function cycles(graph: Map<string, string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const found: string[] = [];
  const walk = (u: string, path: string[]) => {
    state.set(u, 'open');
    path.push(u);
    for (const v of graph.get(u) ?? []) {
      if (!graph.has(v)) continue;
      if (state.get(v) === 'open') found.push([...path.slice(path.indexOf(v)), v].join(' → '));
      else if (!state.has(v)) walk(v, path);
    }
    path.pop();
    state.set(u, 'done');
  };
  for (const u of graph.keys()) if (!state.has(u)) walk(u, []);
  return found;
}

test('the cycle finder finds a cycle (so a broken finder cannot pass)', () => {
  const g = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
  assert.equal(cycles(g), ['a.ts → b.ts → c.ts → a.ts']);
  assert.equal(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), []);
});

test('the sources import one another without a cycle', () => {
  const graph = importGraph();
  assert.ok(graph.has(join('client', 'p2p', 'swarm.ts')) && graph.size > 200, `sources not found under ${root}`);
  assert.equal(cycles(graph), []);
});

test.run();
