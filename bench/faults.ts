/**
 * `npm run -s bench:faults -- [--only NAME,...] [--clients N]`: the fault campaign (bench/lib/faults/) on a scaled
 * deployment on 127.0.0.1: a baseline crowd, then one crowd per fault. Prints one JSON line (brief §6): `faults`
 * (per fault `name`, `completed`, `clients`, `refetched_bytes`, `added_s`, `corrupt`), `fault_count`,
 * `corrupt_files`, `all_survivors_complete`. Progress goes to stderr.
 */
import { parseArgs } from 'node:util';
import { runCampaign } from './lib/faults/campaign.js';
import { gitCommit } from './lib/git.js';

const { values } = parseArgs({ options: {
  only: { type: 'string' },
  clients: { type: 'string' },
  verbose: { type: 'boolean' },
} });
const started = Date.now();
const result = await runCampaign({
  ...(values.only ? { only: values.only.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
  ...(values.clients ? { clients: Number(values.clients) } : {}),
  verbose: values.verbose === true,
});
for (const f of result.faults) {
  process.stderr.write(`${f.name}: ${f.completed}/${f.clients} complete, +${f.added_s} s, re-fetched ${f.refetched_bytes} B, corrupt ${f.corrupt}\n`);
}
process.stdout.write(`${JSON.stringify({
  commit: gitCommit(),
  baseline_s: result.baseline_s,
  faults: result.faults,
  fault_count: result.faults.length,
  corrupt_files: result.faults.reduce((s, f) => s + f.corrupt, 0),
  all_survivors_complete: result.faults.every((f) => f.completed === f.clients),
  wall_s: Math.round((Date.now() - started) / 1000),
})}\n`);
process.exit(0);
