/**
 * Reading the server's own permission errors: nats-server answers a forbidden publish or subscribe with
 * `-ERR 'Permissions Violation for <Publish|Subscription> to "<subject>"'`, which nats.js surfaces as a
 * PermissionViolationError on the connection's status stream. Tests wait for exactly that error, so a refusal is
 * proven by the server, not inferred from silence.
 */
import type { NatsConnection } from '../../lib/nats.js';

export interface Violation {
  operation: string;
  subject: string;
  message: string;
}

/** Collects every permission violation the server reports on `nc` from now on. */
export function watchViolations(nc: NatsConnection): { seen: Violation[]; stop(): void } {
  const seen: Violation[] = [];
  let stopped = false;
  const status = nc.status();
  void (async () => {
    for await (const s of status) {
      if (stopped) break;
      const err = (s as { type?: string; error?: { name?: string; operation?: string; subject?: string; message?: string } }).error;
      if (s.type === 'error' && err?.name === 'PermissionViolationError') {
        seen.push({ operation: err.operation ?? '', subject: err.subject ?? '', message: err.message ?? '' });
      }
    }
  })();
  return {
    seen,
    stop() {
      stopped = true;
    },
  };
}

/** Runs `action` and waits (≤ 3 s) for the server to report a violation of `operation` on `subject`. */
export async function expectViolation(
  nc: NatsConnection, w: { seen: Violation[] }, operation: 'publish' | 'subscription', subject: string,
  action: () => unknown,
): Promise<Violation> {
  const before = w.seen.length;
  try {
    await action();
  } catch {
    /* a request fails too; the status stream is what proves the server refused it */
  }
  await nc.flush().catch(() => {});
  const deadline = Date.now() + 3000;
  for (;;) {
    const v = w.seen.slice(before).find((x) => x.operation === operation && x.subject === subject);
    if (v) return v;
    if (Date.now() > deadline) {
      throw new Error(`no ${operation} violation for ${subject}; seen: ${JSON.stringify(w.seen.slice(before))}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
