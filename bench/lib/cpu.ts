/**
 * CPU time of another process (the crowd's nats-server child), read from /proc: what `process.cpuUsage()` gives
 * for this one. Linux only; elsewhere null.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | null = null;
/** CPU seconds (user + system) of a process from /proc/<pid>/stat; null where unavailable. */
export function procCpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    if (clockTicks === null) {
      try {
        clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
      } catch {
        clockTicks = 100;
      }
    }
    return Number.isFinite(ticks) ? ticks / clockTicks : null;
  } catch {
    return null;
  }
}

/** The machine's CPU time so far, from /proc/stat's first line (jiffies): all of it, and what the hypervisor stole. */
export interface MachineCpu {
  total: number;
  steal: number;
}

/** Reads /proc/stat; null where unavailable (not Linux). */
export function machineCpu(): MachineCpu | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    // cpu user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already in user/nice
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
    return { total: f.reduce((a, x) => a + x, 0), steal: f[7]! };
  } catch {
    return null;
  }
}

/**
 * The share of the machine's CPU time a hypervisor took for other guests between two readings (0–1; null where
 * unknown). On a shared VM a few percent of steal moves every timing figure: a bench run reports it beside them.
 */
export function stealBetween(a: MachineCpu | null, b: MachineCpu | null): number | null {
  if (!a || !b || b.total <= a.total) return null;
  return (b.steal - a.steal) / (b.total - a.total);
}
