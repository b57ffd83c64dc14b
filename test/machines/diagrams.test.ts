/**
 * The committed diagrams must be the machines: a transition added without `npm run diagrams` would leave
 * docs/*.dot (and the SVGs rendered from them) describing a machine that no longer exists.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AnyStateMachine } from 'xstate';
import { downloadMachine, machineToDot, peerLinkMachine } from '../../machines/mod.js';

// compiled to dist/test/machines/: the repository root is three levels up
const DOCS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs');

const DIAGRAMS: Array<[string, AnyStateMachine]> = [
  ['download-machine.dot', downloadMachine],
  ['peer-link-machine.dot', peerLinkMachine],
];

/** The first differing line, so the failure says where the drift is without dumping both files. */
function firstDifference(committed: string, generated: string): string {
  const a = committed.split('\n');
  const b = generated.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}:\n  committed: ${a[i] ?? '(end of file)'}\n  generated: ${b[i] ?? '(end of file)'}`;
  }
  return 'no line differs';
}

for (const [file, machine] of DIAGRAMS) {
  test(`docs/${file} is the machine's current diagram`, () => {
    const committed = readFileSync(join(DOCS, file), 'utf8');
    const generated = machineToDot(machine);
    if (committed !== generated) {
      assert.unreachable(`docs/${file} differs from the machine: run npm run diagrams (and commit docs/*.dot, docs/*.svg)\n${firstDifference(committed, generated)}`);
    }
  });
}

test.run();
