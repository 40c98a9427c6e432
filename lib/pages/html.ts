// What every HTML page shares: escaping, the layout (our stylesheet and logo, no
// external resources), and the response headers, among them a strict CSP.
import { PAGE_CSP } from '../http/headers.js';
import { htmlPage, type Reply } from '../http/reply.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** Markup already escaped (built with `html`). */
export class Raw {
  constructor(readonly text: string) {}
}

/** A tagged template that escapes every interpolated value except `raw()` fragments. */
export function html(strings: TemplateStringsArray, ...values: Array<string | number | Raw | Raw[]>): Raw {
  let out = strings[0]!;
  values.forEach((v, i) => {
    const parts = Array.isArray(v) ? v : [v];
    out += parts.map((p) => (p instanceof Raw ? p.text : escapeHtml(String(p)))).join('') + strings[i + 1]!;
  });
  return new Raw(out);
}

export function layout(title: string, body: Raw): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Thalamus</title>
<link rel="stylesheet" href="/static/thalamus.css">
<link rel="icon" href="/static/logo.svg" type="image/svg+xml">
</head>
<body>
<header class="site-header">
<a class="brand" href="/"><img src="/static/logo.svg" alt="" width="40" height="40"><span>Thalamus</span></a>
</header>
<main id="main">
${body}
</main>
<footer class="site-footer"><p>Thalamus, the message and authentication server of a GNU Health Federation.</p></footer>
</body>
</html>
`.text;
}

/** A page as a reply: our strict CSP (no script, nothing from elsewhere, never framed), and not stored unless `cache` says so. */
export function pageReply(status: number, page: string, cache = 'no-store'): Reply {
  return htmlPage(status, page, { 'Content-Security-Policy': PAGE_CSP, 'Cache-Control': cache });
}
