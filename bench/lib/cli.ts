/** Runs the real compiled `switchyard` CLI as a child process (tests, the fault campaign). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CLI_PATH } from '../../infra/deployment.js';

export const CLI = CLI_PATH;

export interface CliRun {
  child: ChildProcess;
  /** JSON lines printed so far (with --json) */
  events: Array<Record<string, unknown> & { event: string; at?: number }>;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

export function startCli(args: string[],
  opts: { timeoutMs?: number; cwd?: string; nodeArgs?: string[]; env?: Record<string, string> } = {}): CliRun {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'],
    cwd: opts.cwd ?? process.cwd(), env: { ...process.env, SWITCHYARD_LOG: process.env.SWITCHYARD_LOG ?? 'warn', ...opts.env } });
  let out = '';
  let err = '';
  let pending = '';
  const events: CliRun['events'] = [];
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    pending += b.toString();
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        const ev = JSON.parse(line);
        if (ev && typeof ev.event === 'string') events.push({ ...ev, at: ev.at ?? Date.now() });
      } catch {
        /* not a JSON line */
      }
    }
  });
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120000);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve(code);
  }));
  return { child, events, stdout: () => out, stderr: () => err, exited };
}

export async function runCli(args: string[], opts: { timeoutMs?: number; cwd?: string } = {}) {
  const r = startCli(args, opts);
  const code = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr(), events: r.events };
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The first JSON event named `name`, typed as the caller expects it (test code: the CLI's --json contract). */
export function findEvent<T>(events: CliRun['events'], name: string): T | undefined {
  return events.find((e) => e.event === name) as unknown as T | undefined;
}
