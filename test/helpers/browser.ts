/** Headless Debian Chromium for page tests: the launcher lives in infra/ (bench:startup uses it too). */
export { assertChromium, CHROMIUM_ARGS, CHROMIUM_PATH, launchBrowser, type BrowserHandle } from '../../infra/browser.js';
