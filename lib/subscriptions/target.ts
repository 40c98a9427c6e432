// What a subscription may be: a URL Thalamus will POST health data to, and the secret
// that signs it. https only, except to loopback (a receiver on the same host, or a
// test, which SUBSCRIPTION_ALLOW_HOSTS must name: destination.ts) or where
// SUBSCRIPTION_ALLOW_HTTP says otherwise; no credentials in the URL (they would be
// shown back by GET /subscriptions); redirects are never followed.
import { errors } from '../http/errors.js';

const MAX_URL = 2048;
const SECRET_MIN = 16;
const SECRET_MAX = 256;

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

export function checkUrl(value: unknown, allowHttp: boolean): string {
  if (typeof value !== 'string' || value.length > MAX_URL) throw errors.badValue(`"url" must be an http(s) URL of at most ${MAX_URL} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw errors.badValue('"url" is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw errors.badValue('"url" must be an http(s) URL');
  if (url.username || url.password) throw errors.badValue('"url" must not hold credentials; the signature authenticates Thalamus to the receiver');
  if (url.protocol === 'http:' && !allowHttp && !isLoopback(url.hostname)) {
    throw errors.badValue('"url" must use https (plain http only to loopback, unless SUBSCRIPTION_ALLOW_HTTP = True)');
  }
  url.hash = '';
  return url.toString();
}

export function checkSecret(value: unknown): string {
  if (typeof value !== 'string' || value.length < SECRET_MIN || value.length > SECRET_MAX) {
    throw errors.badValue(`"secret" must be a string of ${SECRET_MIN} to ${SECRET_MAX} characters`);
  }
  return value;
}
