// GET /docs: openapi.json as a page people read, rendered here on the server (the pages'
// CSP allows no script) with the pages' own stylesheet: each operation by tag, with its
// ACL rule, parameters, body types and responses with their error codes. Rendered once
// per worker, from the same file GET /openapi.json sends.
import { readFileSync } from 'node:fs';
import { html, layout, type Raw } from './html.js';
import { OPENAPI_FILE } from './openapi.js';

type Json = Record<string, unknown>;
interface Operation { summary: string; description?: string; tags?: string[]; security?: unknown[]; parameters?: Json[]; requestBody?: { content: Json }; responses: Record<string, Json> }
interface Document { info: { title: string; description?: string }; tags: Array<{ name: string; description?: string }>; paths: Record<string, Json>; components: Record<string, Record<string, Json>> }

const METHODS = ['get', 'post', 'patch', 'put', 'delete'];

function deref(doc: Document, value: Json): Json {
  const ref = value.$ref;
  if (typeof ref !== 'string') return value;
  const [, , group, name] = ref.split('/');
  return doc.components[group!]?.[name!] ?? value;
}

/** The error codes a response may carry, read from its JSON schema. */
function codesOf(doc: Document, response: Json): string[] {
  const schema = ((response.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema as Json | undefined;
  const code = (schema?.properties as Json | undefined)?.code as { enum?: string[] } | undefined;
  return code?.enum ?? [];
}

/** `a \`b\`` markdown code spans as <code>; everything else as text. */
function prose(text: string): Raw[] {
  return text.split(/(`[^`]+`)/).map((part) => (part.startsWith('`') && part.endsWith('`') ? html`<code>${part.slice(1, -1)}</code>` : html`${part}`));
}

function operationHtml(doc: Document, path: string, method: string, op: Operation, shared: Json[]): Raw {
  const params = [...shared, ...(op.parameters ?? [])].map((p) => deref(doc, p));
  const responses = Object.entries(op.responses).map(([status, r]) => {
    const response = deref(doc, r);
    const codes = codesOf(doc, response);
    const types = Object.keys((response.content as Json | undefined) ?? {});
    return html`<li><strong>${status}</strong> ${prose(String(response.description ?? ''))}${types.length ? html` <small>(${types.join(', ')})</small>` : ''}${codes.length ? html`: ${codes.map((c, i) => html`${i ? ', ' : ''}<code>${c}</code>`)}` : ''}</li>`;
  });
  const body = op.requestBody ? Object.keys(op.requestBody.content) : [];
  const isPublic = Array.isArray(op.security) && op.security.length === 0;
  return html`<section class="operation" id="${method}-${path.replace(/[^\w]+/g, '-')}">
<h3><code>${method.toUpperCase()} ${path}</code></h3>
<p><strong>${op.summary}</strong>${isPublic ? ' (public)' : ''}. ${prose(op.description ?? '')}</p>
${params.length ? html`<p>Parameters:</p><ul>${params.map((p) => html`<li><code>${String(p.name)}</code> (${String(p.in)})${p.description ? html`: ${prose(String(p.description))}` : ''}</li>`)}</ul>` : ''}
${body.length ? html`<p>Body: ${body.join(', ')}</p>` : ''}
<p>Responses:</p><ul>${responses}</ul>
</section>`;
}

function render(): string {
  const doc = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document;
  const sections = doc.tags.map((tag) => {
    const ops: Raw[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) {
        const op = item[method] as Operation | undefined;
        if (op?.tags?.includes(tag.name)) ops.push(operationHtml(doc, path, method, op, (item.parameters as Json[] | undefined) ?? []));
      }
    }
    return html`<h2>${tag.name}</h2>${tag.description ? html`<p>${tag.description}</p>` : ''}${ops}`;
  });
  const intro = (doc.info.description ?? '').split('\n').filter(Boolean).map((line) =>
    line.startsWith('- ') ? html`<p>${prose(line.slice(2).replace(/\*\*/g, ''))}</p>` : html`<p>${prose(line)}</p>`);
  return layout('API', html`<h1>${doc.info.title} API</h1>
<p>The machine-readable description: <a href="/openapi.json"><code>/openapi.json</code></a> (OpenAPI 3.1).</p>
${intro}
${sections}`);
}

let page: string | undefined;

export function docsPage(): string {
  page ??= render();
  return page;
}
