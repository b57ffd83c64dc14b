/**
 * protocol/ and machines/ must run in any JS runtime (a browser client, a worker), so they may not reach for
 * Node: no Node built-in module, no Buffer, and no relative import leaving those two directories (which could
 * pull Node in by the back door). Reads the sources, located from this compiled test's own path.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot as root, sources, specifiers, stripComments } from '../helpers/sources.js';

const PORTABLE = ['protocol', 'machines'];
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.replace(/^node:/, '')]));
const isBuiltin = (spec: string) => spec.startsWith('node:') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0]!);

const files = PORTABLE.flatMap((d) => sources(join(root, d)));

test('finds the sources (so an empty scan cannot pass)', () => {
  assert.ok(files.some((f) => f.endsWith(join('protocol', 'wire.ts'))), `no protocol sources under ${root}`);
  assert.ok(files.some((f) => f.includes(`${join('machines', 'download')}`)), `no machine sources under ${root}`);
});

test('protocol/ and machines/ import no Node built-in, use no Buffer, and stay inside themselves', () => {
  const problems: string[] = [];
  for (const file of files) {
    const code = stripComments(readFileSync(file, 'utf8'));
    const rel = relative(root, file);
    for (const spec of specifiers(code)) {
      if (isBuiltin(spec)) {
        problems.push(`${rel} imports the Node built-in ${spec}`);
      } else if (spec.startsWith('.')) {
        const target = relative(root, resolve(dirname(file), spec));
        if (!PORTABLE.some((d) => target === d || target.startsWith(d + '/'))) {
          problems.push(`${rel} imports ${spec}, outside ${PORTABLE.join('/ and ')}/`);
        }
      }
    }
    if (/\bBuffer\b/.test(code)) problems.push(`${rel} uses Buffer`);
  }
  assert.equal(problems, []);
});

/**
 * The browser peer (web/) runs the shared engine: every module it reaches through relative imports, transitively
 * (the swarm, links, request table, uploader, runner glue, identity, NATS request helper, ...), must be free of
 * Node built-ins and Buffer too. Type-only imports count: a type file today is a value file tomorrow.
 */
test('web/ and every module it imports (transitively) use no Node built-in and no Buffer', () => {
  const start = sources(join(root, 'web'));
  assert.ok(start.some((f) => f.endsWith(join('web', 'engine.ts'))), `no web sources under ${root}`);
  const seen = new Set<string>();
  const queue = [...start];
  const problems: string[] = [];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = stripComments(readFileSync(file, 'utf8'));
    const rel = relative(root, file);
    for (const spec of specifiers(code)) {
      if (isBuiltin(spec)) {
        problems.push(`${rel} imports the Node built-in ${spec}`);
      } else if (spec.startsWith('.')) {
        queue.push(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
      }
    }
    if (/\bBuffer\b/.test(code)) problems.push(`${rel} uses Buffer`);
  }
  const reached = [...seen].map((f) => relative(root, f));
  for (const shared of ['client/p2p/swarm.ts', 'client/p2p/link.ts', 'client/runner.ts', 'machines/download/machine.ts']) {
    assert.ok(reached.includes(shared), `web/ runs the shared ${shared}`);
  }
  assert.equal(problems, []);
});

test.run();
