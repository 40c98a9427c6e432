// The password form at /password/:id (DESIGN §4). GET shows it with a CSRF token bound
// to the account's stored hash; POST checks the token, applies the API's password
// policy and stores an argon2id hash only if the hash is still the one the token was
// issued under (so each token changes a password once), with its audit row in the
// same statement. Another person's password needs account administration (ACL name
// `roles`), as on the API. Sign-in reads the stored hash on every request, so the old
// password stops working at once. Errors are shown in the form, tied to their field.
import sql from 'sql-template-tag';
import { audited, type ResourceContext } from '../resources/context.js';
import { checkNewPassword } from '../auth/policy.js';
import { createPasswords, type Passwords } from '../auth/passwords.js';
import { HttpError } from '../http/errors.js';
import type { Reply } from '../http/reply.js';
import { run } from '../db/run.js';
import type { Csrf } from './csrf.js';
import { html, layout, pageReply, type Raw } from './html.js';

type Field = 'password' | 'confirm';
type FieldErrors = Partial<Record<Field, string>>;


const FIELDS: Array<{ name: Field; label: string; hint: (minLength: number) => string }> = [
  { name: 'password', label: 'New password', hint: (minLength) => `At least ${minLength} characters.` },
  { name: 'confirm', label: 'Confirm the new password', hint: () => 'Type the same password again.' },
];

export interface PasswordPages {
  /** GET: the form, with a token bound to the stored hash. */
  show(ctx: ResourceContext): Promise<Reply>;
  /** POST: the change, if the token is good and the hash is still the one it was issued under. */
  change(ctx: ResourceContext): Promise<Reply>;
}

/** The pages, hashing and checking by `passwords` (the server's settings; the shipped ones by default). */
export function passwordPages(csrf: Csrf, passwords: Passwords = createPasswords()): PasswordPages {
  const { minLength } = passwords.settings;
  /** The target's stored hash, or a page that answers instead (403, 404). */
  async function target(ctx: ResourceContext): Promise<{ id: string; stored: string | null } | Reply> {
    const id = ctx.params.id!;
    if (id !== ctx.principal!.id && !ctx.authority.administer) return forbidden(id);
    const rows = await run<{ hash: string | null }>(ctx.pool, sql`SELECT data->>'password' AS hash FROM people WHERE id = ${id}::varchar`);
    if (!rows[0]) return notFound(id);
    return { id, stored: rows[0].hash };
  }
  return {
    async show(ctx) {
      const t = await target(ctx);
      return 'kind' in t ? t : showForm(ctx, csrf, t.id, t.stored, 200, {}, minLength);
    },
    async change(ctx) {
      const t = await target(ctx);
      if ('kind' in t) return t;
      const { id, stored } = t;
      if (!csrf.verify(ctx.body.csrf, ctx.principal!.id, id, stored)) return refused(id);
      const password = typeof ctx.body.password === 'string' ? ctx.body.password : '';
      const confirm = typeof ctx.body.confirm === 'string' ? ctx.body.confirm : '';
      const problems = validate(password, confirm, minLength);
      if (Object.keys(problems).length) return showForm(ctx, csrf, id, stored, 400, problems, minLength);
      const rows = await run<{ id: string | null }>(ctx.pool, audited(ctx, { action: 'update', recordId: id, person: id, status: 200, changed: ['password'] },
        sql`UPDATE people SET data = jsonb_set(COALESCE(data, '{}'::jsonb), '{password}', to_jsonb(${await passwords.hash(password)}::text))
          WHERE id = ${id}::varchar AND data->>'password' IS NOT DISTINCT FROM ${stored}::text RETURNING id`));
      // The password changed since the form was issued: this token is spent.
      if (rows[0]?.id == null) return refused(id);
      return pageReply(200, layout('Password changed', html`<h1>Password changed</h1>
<div class="notice" role="status"><p>The password of account <strong>${id}</strong> has been changed.
From now on only the new password works; your browser will ask for it.</p></div>
<p><a href="/">Back to the start page</a></p>`));
    },
  };
}

/** The same policy as the API (lib/auth/policy), and both entries equal. */
function validate(password: string, confirm: string, minLength: number): FieldErrors {
  const problems: FieldErrors = {};
  try {
    checkNewPassword(password, minLength);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    problems.password = err.message;
  }
  if (confirm !== password) problems.confirm = 'The two passwords differ; type the same password twice';
  return problems;
}

function showForm(ctx: ResourceContext, csrf: Csrf, id: string, stored: string | null, status: number, problems: FieldErrors, minLength: number): Reply {
  const self = id === ctx.principal!.id;
  const invalid = FIELDS.filter((f) => problems[f.name]);
  const focus = invalid[0]?.name ?? 'password';
  const summary = invalid.length ? html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title">
<h2 id="error-summary-title">The password was not changed</h2>
<ul>${invalid.map((f) => html`<li><a href="#${f.name}">${problems[f.name]!}</a></li>`)}</ul>
</div>` : html``;
  const fields = FIELDS.map((f) => field(f, problems[f.name], f.name === focus, minLength));
  const title = self ? 'Change your password' : `Change the password of ${id}`;
  const body = html`<h1>${title}</h1>
<p>Account <strong>${id}</strong>${self ? html`` : html`, changed by <strong>${ctx.principal!.id}</strong>`}.</p>
${summary}
<form method="post" action="/password/${encodeURIComponent(id)}" accept-charset="utf-8" novalidate>
${fields}
<input type="hidden" name="csrf" value="${csrf.issue(ctx.principal!.id, id, stored)}">
<button type="submit">Change password</button>
</form>`;
  return pageReply(status, layout(invalid.length ? `Error: ${title}` : title, body));
}

function field(f: (typeof FIELDS)[number], problem: string | undefined, focus: boolean, minLength: number): Raw {
  const described = problem ? `${f.name}-hint ${f.name}-error` : `${f.name}-hint`;
  return html`<div class="field">
<label for="${f.name}">${f.label}</label>
<p class="hint" id="${f.name}-hint">${f.hint(minLength)}</p>
${problem ? html`<p class="error" id="${f.name}-error"><span class="visually-hidden">Error: </span>${problem}</p>` : html``}
<input id="${f.name}" name="${f.name}" type="password" autocomplete="new-password" required minlength="${minLength}" aria-describedby="${described}"${problem ? html` aria-invalid="true"` : html``}${focus ? html` autofocus` : html``}>
</div>`;
}

function refused(id: string): Reply {
  return pageReply(403, layout('Form expired', html`<h1>Form expired</h1>
<div class="notice refused" role="alert"><p>This form has expired or was not issued to you, so nothing was changed.</p></div>
<p><a href="/password/${encodeURIComponent(id)}">Open the password form again</a></p>`));
}

function forbidden(id: string): Reply {
  return pageReply(403, layout('Not allowed', html`<h1>Not allowed</h1>
<div class="notice refused" role="alert"><p>Changing the password of another account (<strong>${id}</strong>) needs the account administration right.</p></div>
<p><a href="/">Back to the start page</a></p>`));
}

function notFound(id: string): Reply {
  return pageReply(404, layout('Unknown account', html`<h1>Unknown account</h1>
<p>There is no person <strong>${id}</strong> in this federation.</p>
<p><a href="/">Back to the start page</a></p>`));
}
