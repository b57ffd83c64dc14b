/** Time source injected into actors so that lease and grant expiry can be reasoned about (and faked in tests). */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
