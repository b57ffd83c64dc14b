/** Headless Debian Chromium for page tests: the launcher is infra/chromium.ts (a Node program that drives Chromium; bench:startup uses it too). */
export { assertChromium, CHROMIUM_ARGS, CHROMIUM_PATH, launchBrowser, type BrowserHandle } from '../../infra/chromium.js';
