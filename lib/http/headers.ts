// Security headers on every response. API answers are JSON: nothing may run, frame or
// cache them. HTML pages replace the CSP with their own (still strict). HSTS is set by
// nginx, which terminates TLS (nginx/thalamus.conf).
import type { ServerResponse } from 'node:http';

export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** For HTML pages: own styles, images and form targets only; no script, no framing. */
export const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', API_CSP);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/** The same headers as a raw header block, for answers written to the socket directly. */
export const RAW_SECURITY_HEADERS = `X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nContent-Security-Policy: ${API_CSP}\r\nCache-Control: no-store\r\n`;
