/**
 * Timer helpers that run in Node and in a browser. Node's timers keep the process alive unless unref'd; a
 * browser's timers are plain numbers with nothing to unref. Shared code (the P2P swarm, the uploader) calls these
 * instead of `timer.unref()`.
 */

/** A timer handle of whichever runtime runs the code. */
export type Timer = ReturnType<typeof setTimeout>;

/** Lets a Node process exit while this timer is pending; a no-op elsewhere. */
export function unrefTimer(t: Timer | null | undefined): void {
  (t as { unref?: () => void } | null | undefined)?.unref?.();
}
