export * from './subjects.js';
export * from './errors.js';
export * from './manifest.js';
export * from './grant.js';
export * from './messages.js';
export * from './codec.js';
export * from './p2p.js';
export * from './wire.js';
