export * from './types.js';
export * from './fs.js';
export * from './gridfs.js';
export * from './open.js';
