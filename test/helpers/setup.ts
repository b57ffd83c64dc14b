/**
 * Retrying a link's set-up in tests that are not about set-up. A loopback node-datachannel connection fails its
 * start now and then on a loaded machine: the offerer's ICE and DTLS can complete inside its
 * `setRemoteDescription(answer)`, before the answer's fingerprint is stored (shared/notes/node-datachannel.md, "the
 * rare failure under load"; measured here at about 0.1–0.5 % of links with both cores busy). The swarm re-dials such
 * a peer; a test of what happens on an open link does the same, with a fresh connection, instead of failing.
 */
import { waitFor } from './env.js';

export interface SetupAttempt {
  /** both ends are open: the test can go on */
  opened(): boolean;
  /** the attempt has ended without opening (either end closed) */
  failed(): boolean;
  /** frees what the attempt made */
  close(): void;
}

export interface RetryOptions {
  /** attempts before giving up (default 3) */
  tries?: number;
  /** per attempt (default 10 s) */
  timeoutMs?: number;
  /** after a failed attempt, before the next (e.g. until the other end frees the failed connection; default 0) */
  pauseMs?: number;
}

/**
 * Starts `attempt(n)` (n from 1) until one opens, and returns it; a failed one is closed first. Throws, naming
 * `what`, when none opened: a link that never opens is still a failure.
 */
export async function openWithRetry<T extends SetupAttempt>(attempt: (n: number) => T, what: string,
  opts: RetryOptions = {}): Promise<T> {
  const tries = opts.tries ?? 3;
  const failures: string[] = [];
  for (let n = 1; n <= tries; n++) {
    const a = attempt(n);
    try {
      await waitFor(() => a.opened() || a.failed(), `${what} to open or fail`, opts.timeoutMs ?? 10_000);
    } catch (err) {
      a.close();
      throw err;
    }
    if (a.opened()) return a;
    failures.push(`attempt ${n} failed`);
    a.close();
    if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
  }
  throw new Error(`${what} did not open in ${tries} attempts (${failures.join(', ')})`);
}
