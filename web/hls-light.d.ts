// hls.js ships no declarations for its light build (`hls.js/light`): it is the same API minus features, so it
// takes the full build's types
declare module 'hls.js/light' {
  export { default } from 'hls.js';
  export * from 'hls.js';
}
