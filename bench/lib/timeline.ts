/**
 * A crowd's shape over time: cumulative bytes sampled every 250 ms (peers' upload, origin egress, clients done),
 * and the same as rates in CSV (`bench:swarm --timeline`): where a run loses time, at the start, in the middle or
 * in the tail.
 */

/** One moment of a crowd: cumulative bytes the peers uploaded and the origin sent, and clients done. */
export interface CrowdSample {
  /** ms since the crowd start */
  t: number;
  uploaded: number;
  origin: number;
  done: number;
}

const MiB = 1024 * 1024;

/** Samples `read()` every `everyMs` from now on; `stop()` takes a last sample and returns them all. */
export function startSampler(t0: number, read: () => Omit<CrowdSample, 't'>, everyMs = 250) {
  const samples: CrowdSample[] = [];
  const sample = () => samples.push({ t: Math.round(performance.now() - t0), ...read() });
  const timer = setInterval(sample, everyMs);
  return {
    stop(): CrowdSample[] {
      clearInterval(timer);
      sample();
      return samples;
    },
  };
}

/** The samples as rates between consecutive samples: `t_ms,upload_MiBps,origin_MiBps,done`. */
export function timelineCsv(samples: readonly CrowdSample[]): string {
  const lines = ['t_ms,upload_MiBps,origin_MiBps,done'];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0) continue;
    lines.push(`${b.t},${((b.uploaded - a.uploaded) / dt / MiB).toFixed(2)},${((b.origin - a.origin) / dt / MiB).toFixed(2)},${b.done}`);
  }
  return lines.join('\n') + '\n';
}
