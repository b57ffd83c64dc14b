/**
 * Prometheus metrics for every Switchyard process: a registry per component instance with Node's process
 * metrics, a small HTTP endpoint for worker processes, one collector per role, and a text-format reader.
 */
export * from './registry.js';
export * from './server.js';
export * from './roles.js';
export * from './tracker.js';
export * from './telemetry.js';
export * from './parse.js';
