export * from './relay.js';
export * from './client.js';
export * from './links.js';
