export * from './types.js';
export * from './probe.js';
export * from './ingest.js';
export * from './worker.js';
export * from './staging.js';
