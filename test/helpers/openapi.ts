// Checks a response against openapi.json, so the document cannot drift from the
// server: the request's method and path pick the operation (HEAD is GET's, OPTIONS the
// preflight's, an unknown path NoRoute's, a method the path lacks MethodNotAllowed's,
// or NoRoute's under /static/),
// the status must be one of its responses, required headers present, and the body of
// the documented media type and schema (JSON; NDJSON line by line; for SSE each event's
// data; for other types, bytes and pages, the type alone). Schemas are compiled once
// with ajv (JSON Schema 2020-12, which OpenAPI 3.1 uses) and ajv-formats.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { ROOT } from '../../lib/config.js';

type Json = Record<string, unknown>;
interface MediaType { schema?: Json }
interface ResponseObject { description: string; headers?: Record<string, Json>; content?: Record<string, MediaType> }
interface PathItem { [method: string]: unknown }

// ajv and ajv-formats are CommonJS: their default export is a property of the module.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as typeof addFormatsModule;

export const OPENAPI_PATH = join(ROOT, 'openapi.json');
const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as { paths: Record<string, PathItem>; components: Record<string, Record<string, Json>> };

const DOC_ID = 'thalamus-openapi';
/** `#/components/schemas/X` read from a schema compiled on its own. */
const absolute = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(absolute);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')
    ? `${DOC_ID}#/$defs/${v.slice('#/components/schemas/'.length)}` : absolute(v)]));
};

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(ajv);
// OpenAPI's own keywords beside JSON Schema's.
ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
ajv.addSchema({ $id: DOC_ID, $defs: absolute(doc.components.schemas) as Json });

const compiled = new Map<string, ValidateFunction>();
function validator(key: string, schema: Json): ValidateFunction {
  let v = compiled.get(key);
  if (!v) { v = ajv.compile(absolute(schema) as Json); compiled.set(key, v); }
  return v;
}

const deref = <T>(value: unknown): T => {
  const ref = (value as { $ref?: string }).$ref;
  if (!ref) return value as T;
  const [, , group, name] = ref.split('/');
  return doc.components[group!]![name!] as T;
};

/** Path templates, literal ones first (`/people` before `/people/{id}` cannot clash, but keep it so). */
const TEMPLATES = Object.keys(doc.paths)
  // As the router matches: one trailing slash is allowed (`/people/` is `/people`).
  .map((template) => ({ template, pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}${template === '/' ? '' : '/?'}$`) }))
  .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));

/** What has been validated: responses, the distinct method/path/status triples, and SSE events (helpers/sse.ts). */
export const validated = { responses: 0, events: 0, seen: new Set<string>() };

export interface CheckedResponse {
  method: string;
  /** The path and query as sent. */
  path: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const essence = (type: string | string[] | undefined) => String(type ?? '').split(';')[0]!.trim().toLowerCase();

/** The operation's response for `r`, and the label of what matched. */
function documentedResponse(r: CheckedResponse): { response: ResponseObject; label: string } {
  const path = r.path.split('?')[0]!;
  const method = r.method.toUpperCase();
  const fixed = (name: string, status: number, label: string) => {
    if (r.status !== status) throw new Error(`${label}: ${status} is documented, the server answered ${r.status}`);
    return { response: deref<ResponseObject>(doc.components.responses![name]), label };
  };
  if (method === 'OPTIONS') return fixed('Preflight', 204, `OPTIONS (preflight) ${path}`);
  const match = TEMPLATES.find((t) => t.pattern.test(path));
  if (!match) return fixed('NoRoute', 404, `${method} ${path} (no documented path)`);
  const operation = doc.paths[match.template]![method === 'HEAD' ? 'get' : method.toLowerCase()] as { responses: Record<string, unknown> } | undefined;
  // The assets are served before the router: another method there is no route at all (info.description).
  if (!operation && match.template.startsWith('/static/')) return fixed('NoRoute', 404, `${method} ${match.template} (not an asset request)`);
  if (!operation) return fixed('MethodNotAllowed', 405, `${method} ${match.template} (no such operation)`);
  const status = String(r.status);
  const found = operation.responses[status] ?? operation.responses[`${status[0]}XX`];
  if (!found) throw new Error(`${method} ${match.template}: status ${status} is not documented (documented: ${Object.keys(operation.responses).join(', ')})`);
  return { response: deref<ResponseObject>(found), label: `${method} ${match.template} ${status}` };
}

function mediaFor(content: Record<string, MediaType>, type: string): [string, MediaType] | undefined {
  const entries = Object.entries(content);
  return entries.find(([k]) => essence(k) === type)
    ?? entries.find(([k]) => k.endsWith('/*') && k !== '*/*' && type.startsWith(k.slice(0, -1)))
    ?? entries.find(([k]) => k === '*/*');
}

function check(v: ValidateFunction, value: unknown, where: string): void {
  if (!v(value)) throw new Error(`${where}: the body does not match the document: ${ajv.errorsText(v.errors, { dataVar: 'body' })}\n${JSON.stringify(value).slice(0, 600)}`);
}

/** Throws, naming what differs, unless `r` is as openapi.json says; `count` false for made-up responses. */
export function validateResponse(r: CheckedResponse, count = true): void {
  const { response, label } = documentedResponse(r);
  for (const [name, header] of Object.entries(response.headers ?? {})) {
    if (deref<{ required?: boolean }>(header).required && r.headers[name.toLowerCase()] === undefined) throw new Error(`${label}: the required header ${name} is missing`);
  }
  const noBody = r.method.toUpperCase() === 'HEAD' || r.status === 204 || r.status === 304;
  if (noBody) {
    if (r.text !== '') throw new Error(`${label}: a body where none may be`);
  } else if (response.content) {
    const type = essence(r.headers['content-type']);
    const media = mediaFor(response.content, type);
    if (!media) throw new Error(`${label}: Content-Type ${type || '(none)'} is not documented (documented: ${Object.keys(response.content).join(', ')})`);
    const [key, { schema }] = media;
    const where = `${label} ${type}`;
    if (schema && key !== '*/*') {
      const v = validator(`${label} ${key}`, schema);
      if (type === 'application/json') {
        let value: unknown;
        try { value = JSON.parse(r.text); } catch { throw new Error(`${where}: the body is not JSON: ${r.text.slice(0, 200)}`); }
        check(v, value, where);
      } else if (type === 'application/x-ndjson') {
        r.text.split('\n').filter(Boolean).forEach((line, i) => check(v, JSON.parse(line), `${where} line ${i + 1}`));
      } else if (type === 'text/event-stream') {
        for (const line of r.text.split('\n')) if (line.startsWith('data: ')) check(v, JSON.parse(line.slice(6)), where);
      }
    }
  } else if (r.text !== '') {
    throw new Error(`${label}: a body, but the document describes none`);
  }
  if (!count) return;
  validated.responses++;
  validated.seen.add(label);
}

/**
 * Checks one Server-Sent Event's data against the text/event-stream schema of the GET
 * operation of `path` (a stream whose response validateResponse checked when it began).
 */
export function validateStreamEvent(path: string, data: string): void {
  const { response, label } = documentedResponse({ method: 'GET', path, status: 200, headers: {}, text: '' });
  const schema = response.content?.['text/event-stream']?.schema;
  if (!schema) throw new Error(`${label}: no text/event-stream is documented`);
  let value: unknown;
  try { value = JSON.parse(data); } catch { throw new Error(`${label} text/event-stream: an event's data is not JSON: ${data.slice(0, 200)}`); }
  check(validator(`${label} text/event-stream`, schema), value, `${label} text/event-stream event`);
  validated.events++;
}

process.once('exit', () => {
  if (!validated.responses) return;
  // Under the runner (test/run.ts), each file's process reports to a folder and the
  // runner prints the suite's total; a file run alone prints its own.
  const dir = process.env.THALAMUS_TEST_REPORTS;
  if (dir) {
    writeFileSync(join(dir, `openapi-${process.pid}.json`), JSON.stringify({ responses: validated.responses, events: validated.events, seen: [...validated.seen] }));
    return;
  }
  process.stdout.write(`openapi: ${validated.responses} responses validated against openapi.json (${validated.seen.size} distinct method, path and status), and ${validated.events} stream events\n`);
});
