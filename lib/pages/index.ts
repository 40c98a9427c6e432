// The public index page at `/`: what this server is and how to reach its API.
import type { ServerResponse } from 'node:http';
import { PAGE_CSP } from '../http/headers.js';

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Thalamus — GNU Health Federation</title>
</head>
<body>
<main>
<h1>Thalamus</h1>
<p>The message and authentication server of this GNU Health Federation.</p>
<p>Hospitals' HMIS nodes, the MyGNUHealth app and web portals reach its REST/JSON API
with HTTP Basic credentials, for example <code>GET /people/&lt;federation account&gt;</code>
or <code>GET /pols/&lt;federation account&gt;</code>.</p>
</main>
</body>
</html>
`;

export function indexPage(res: ServerResponse): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(HTML));
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.setHeader('Cache-Control', 'no-cache');
  res.end(HTML);
}
