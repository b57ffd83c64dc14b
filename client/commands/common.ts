/** Small helpers shared by the long-running CLI commands. */

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
