// CORS: every response names the allowed origin; OPTIONS preflights are answered here,
// before authentication, with the methods and headers the browser asked for.
import type { IncomingMessage, ServerResponse } from 'node:http';

const EXPOSED = 'Location, Link, ETag, Retry-After, X-Request-Id';
const METHODS = 'GET, HEAD, POST, PATCH, DELETE, OPTIONS';
/** Only header names (token characters) are echoed back in a preflight. */
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

export interface Cors {
  /** Sets the CORS headers of an ordinary response. */
  decorate(req: IncomingMessage, res: ServerResponse): void;
  /** Answers an OPTIONS request completely. */
  preflight(req: IncomingMessage, res: ServerResponse): void;
}

export function createCors(origins: string[]): Cors {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  const allowOrigin = (req: IncomingMessage): string | undefined => {
    if (any) return '*';
    const origin = req.headers.origin;
    return origin && allowed.has(origin) ? origin : undefined;
  };
  const decorate = (req: IncomingMessage, res: ServerResponse) => {
    const origin = allowOrigin(req);
    if (!any) res.setHeader('Vary', 'Origin');
    if (!origin) return;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSED);
  };
  return {
    decorate,
    preflight(req, res) {
      decorate(req, res);
      if (allowOrigin(req)) {
        res.setHeader('Access-Control-Allow-Methods', METHODS);
        const asked = req.headers['access-control-request-headers'];
        const headers = typeof asked === 'string' && HEADER_LIST.test(asked.trim()) ? asked.trim() : 'Authorization, Content-Type';
        res.setHeader('Access-Control-Allow-Headers', headers);
        res.setHeader('Access-Control-Max-Age', '600');
        if (!any) res.setHeader('Access-Control-Allow-Credentials', 'true');
      }
      res.setHeader('Allow', METHODS);
      res.statusCode = 204;
      res.end();
    },
  };
}
