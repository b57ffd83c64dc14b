export * from './admission.js';
export * from './catalog.js';
export * from './service.js';
export * from './client.js';
export * from './leases.js';
export * from './activity.js';
export * from './urgent.js';
