/**
 * Shared by the fault suites: runs some faults of the campaign (bench/lib/faults/) on one scaled deployment and
 * checks what issue 10 asks of every fault: every surviving client ends byte-identical, nothing it had verified
 * and written is fetched again, no corrupt file. The campaign is split over three files so each stays well
 * inside the per-file time limit; `npm run bench:faults` runs them all with a baseline for `added_s`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCampaign, type FaultFigures } from '../../bench/lib/faults/campaign.js';

export function faultSuite(title: string, only: string[]): void {
  const t = suite<{ faults: FaultFigures[] }>(`scale: faults (${title})`);
  t.before(async (ctx) => {
    ctx.faults = (await runCampaign({ only, baseline: false, verbose: true })).faults;
    process.stdout.write(`${JSON.stringify(ctx.faults.map(({ timeline: _t, ...f }) => f))}\n`);
  });
  for (const name of only) {
    t(`${name}: every survivor complete and byte-identical, nothing written re-fetched, nothing corrupt`, ({ faults }) => {
      const f = faults.find((x) => x.name === name);
      assert.ok(f, `the campaign ran ${name}`);
      assert.ok(f!.clients > 0, 'some clients survived');
      // a fault that lands after the crowd tests nothing (the progress probe once read a layout long gone)
      const at = Number(f!.detail?.injected_at_progress);
      assert.ok(at > 0 && at < 1, `the fault landed mid-crowd (at progress ${at})`);
      assert.is(f!.completed, f!.clients, `${f!.completed}/${f!.clients} survivors complete: ${(f!.failures ?? []).join('; ')}`);
      assert.is(f!.corrupt, 0, 'no corrupt file');
      assert.is(f!.refetched_bytes, 0, 'nothing verified and written was fetched again');
    });
  }
  t.run();
}
