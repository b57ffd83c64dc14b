export * from './body.js';
export * from './range.js';
export * from './server.js';
