export * from './logger.js';
export * from './clock.js';
export * from './abort.js';
export * from './tokenbucket.js';
export * from './ratelimit.js';
export * from './kvguard.js';
