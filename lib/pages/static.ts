// The pages' stylesheet and images: server/public served by sirv under /static, with
// weak ETags (304 on If-None-Match), Cache-Control, and the precompressed .br/.gz
// copies (`npm run assets`) when the client accepts them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import sirv from 'sirv';
import { ROOT } from '../config.js';
import { PAGE_CSP } from '../http/headers.js';

export const STATIC_PREFIX = '/static';
export const PUBLIC_DIR = join(ROOT, 'server', 'public');
/** Assets keep their names across releases, so caches revalidate hourly. */
export const STATIC_MAX_AGE = 3600;

/** The request as polka hands it over; `label` names it in logs and metrics. */
type StaticRequest = IncomingMessage & { path: string; url: string; label?: string };

/**
 * A middleware serving GET and HEAD of the files under STATIC_PREFIX; anything else
 * falls through untouched (polka's own prefix mount would leave a rewritten path behind).
 */
export function serveStatic(dir = PUBLIC_DIR): (req: StaticRequest, res: ServerResponse, next: () => void) => void {
  // sirv sets `Vary: Accept-Encoding`, replacing CORS's `Vary: Origin`; keep both.
  const priorVary = new WeakMap<ServerResponse, string>();
  const serve = sirv(dir, {
    etag: true, gzip: true, brotli: true, maxAge: STATIC_MAX_AGE, extensions: [], dotfiles: false,
    setHeaders(res) {
      res.setHeader('Content-Security-Policy', PAGE_CSP);
      const prior = priorVary.get(res);
      if (prior) res.setHeader('Vary', `${prior}, ${res.getHeader('Vary')}`);
    },
  });
  return (req, res, next) => {
    if (!req.path.startsWith(`${STATIC_PREFIX}/`) || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    const { url } = req;
    req.url = url.slice(STATIC_PREFIX.length);
    req.label = `${STATIC_PREFIX}/*`;
    const vary = res.getHeader('Vary');
    if (typeof vary === 'string') priorVary.set(res, vary);
    // sirv keeps a Cache-Control already set; the API's no-store must not reach assets.
    const cache = res.getHeader('Cache-Control');
    res.removeHeader('Cache-Control');
    serve(req, res, () => {
      req.url = url;
      req.label = undefined;
      if (cache !== undefined) res.setHeader('Cache-Control', cache);
      next();
    });
  };
}
