/**
 * Start-up milestones as User Timing marks (`performance.mark('sy:<name>')`, the first occurrence of each only),
 * so a page, its tests and bench:startup can see where the time to the first frame goes
 * (`performance.getEntriesByType('mark')`, ms since navigation start) without the engine knowing who reads them.
 */
const seen = new Set<string>();

/** Marks `sy:<name>` the first time it happens in this page. */
export function markOnce(name: string): void {
  if (seen.has(name)) return;
  seen.add(name);
  try {
    globalThis.performance?.mark?.(`sy:${name}`);
  } catch {
    // a mark is a diagnostic: never a failure
  }
}
