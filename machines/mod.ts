export * from './download/mod.js';
export * from './graph.js';
export * from './peerLink/mod.js';
