/**
 * The KV layer: one spec per bucket (buckets.ts), one codec per bucket (codec.ts), the mirror with watch
 * restart (../kvmirror.ts), the compare-and-set engine (store.ts), sweeping (sweep.ts), the lost-bucket guard
 * (../kvguard.ts) and the typed errors (errors.ts). Actors and the gateway use KV state only through these.
 */
export * from './buckets.js';
export * from './codec.js';
export * from './errors.js';
export * from './store.js';
export * from './sweep.js';
export * from '../kvmirror.js';
export * from '../kvguard.js';
