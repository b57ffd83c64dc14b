/**
 * The Content-Security-Policy of the gateway's self-contained pages (dashboard, inspector): exactly their inline
 * script and style (by hash), fetches to this gateway, and nothing else.
 */
import { createHash } from 'node:crypto';

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

export function inlinePageCsp(js: string, css: string): string {
  return [
    "default-src 'none'",
    `script-src ${sha256(js)}`,
    `style-src ${sha256(css)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
