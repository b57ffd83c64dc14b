/**
 * `npm run -s bench:soak -- [--minutes M] [--concurrency N]`: peers joining and leaving continuously against a
 * scaled deployment and a long-running seeder (bench/lib/soak.ts). Prints one JSON line (brief §6): `minutes`,
 * `processes` (per process: heap/RSS/handles after warm-up and at the end, and every sample), `max_heap_growth`,
 * `max_rss_growth`, `max_handles_growth` (fractions), `all_verified`.
 */
import { parseArgs } from 'node:util';
import { gitCommit } from './lib/git.js';
import { runSoak } from './lib/soak.js';

const { values } = parseArgs({ options: {
  minutes: { type: 'string' },
  concurrency: { type: 'string' },
  'sample-s': { type: 'string' },
} });
const minutes = Number(values.minutes ?? 5);
if (!(minutes > 0 && minutes <= 120)) throw new RangeError('--minutes is between 0 and 120');
const result = await runSoak({ minutes, ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
  ...(values['sample-s'] ? { sampleMs: Number(values['sample-s']) * 1000 } : {}) });
for (const p of result.processes) {
  process.stderr.write(`${p.name.padEnd(10)} heap ${(p.heap_after_warmup / 1e6).toFixed(1)} → ${(p.heap_end / 1e6).toFixed(1)} MB ` +
    `(${(p.heap_growth * 100).toFixed(1)} %), RSS ${(p.rss_after_warmup / 1e6).toFixed(1)} → ${(p.rss_end / 1e6).toFixed(1)} MB ` +
    `(${(p.rss_growth * 100).toFixed(1)} %), handles ${p.handles_after_warmup} → ${p.handles_end}\n`);
}
process.stdout.write(`${JSON.stringify({ commit: gitCommit(), ...result })}\n`);
process.exit(0);
