/** Small helpers shared by the long-running CLI commands. */

/**
 * ICE bind address: `--bind any` gathers on every interface; `--bind ADDR` on one; by default a system reached
 * over loopback keeps WebRTC on loopback too (local demos and tests never touch other interfaces).
 */
export function bindAddressFor(flag: string | undefined, natsUrl: string): string | undefined {
  if (flag === 'any') return undefined;
  if (flag) return flag;
  return /^(nats:\/\/)?(127\.0\.0\.1|localhost)(:|$)/.test(natsUrl) ? '127.0.0.1' : undefined;
}

/** Resolves on SIGINT/SIGTERM, or after `ms` when given. */
export function waitForStop(ms?: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.removeListener('SIGINT', done);
      process.removeListener('SIGTERM', done);
      if (timer) clearTimeout(timer);
      resolve();
    };
    const timer = ms !== undefined && Number.isFinite(ms) ? setTimeout(done, ms) : null;
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
