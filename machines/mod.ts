export * from './download/mod.js';
export * from './graph.js';
