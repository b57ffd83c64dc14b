export * from './tracker.js';
export * from './score.js';
export * from './client.js';
