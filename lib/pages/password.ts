// The password form at /password/:id (DESIGN §4). GET shows it with a CSRF token;
// POST checks the token, applies the API's password policy and stores an argon2id
// hash. Sign-in reads the stored hash on every request, so the old password stops
// working at once. Errors are shown in the form, tied to their field.
import type { IncomingMessage } from 'node:http';
import type { ResourceContext } from '../resources/context.js';
import { checkNewPassword } from '../auth/policy.js';
import { hashPassword } from '../auth/passwords.js';
import { HttpError } from '../http/errors.js';
import { html, layout, sendHtml, type Raw } from './html.js';

type Field = 'password' | 'confirm';
type FieldErrors = Partial<Record<Field, string>>;

const EXISTS = 'SELECT 1 FROM people WHERE id = $1';
const SET_PASSWORD = `UPDATE people SET data = jsonb_set(COALESCE(data, '{}'::jsonb), '{password}', to_jsonb($2::text))
  WHERE id = $1`;

const FIELDS: Array<{ name: Field; label: string; hint: string }> = [
  { name: 'password', label: 'New password', hint: 'At least 8 characters.' },
  { name: 'confirm', label: 'Confirm the new password', hint: 'Type the same password again.' },
];

export async function passwordPage(ctx: ResourceContext, req: IncomingMessage): Promise<void> {
  const id = ctx.params.id!;
  const signedIn = ctx.principal!.id;
  if (req.method !== 'POST') {
    const { rowCount } = await ctx.pool.query(EXISTS, [id]);
    return rowCount ? showForm(ctx, id, 200, {}) : notFound(ctx, id);
  }
  if (!ctx.csrf.verify(ctx.body.csrf, signedIn, id)) return refused(ctx, id);
  const password = typeof ctx.body.password === 'string' ? ctx.body.password : '';
  const confirm = typeof ctx.body.confirm === 'string' ? ctx.body.confirm : '';
  const problems = validate(password, confirm);
  if (Object.keys(problems).length) return showForm(ctx, id, 400, problems);
  const { rowCount } = await ctx.pool.query(SET_PASSWORD, [id, await hashPassword(password)]);
  if (!rowCount) return notFound(ctx, id);
  sendHtml(ctx.res, 200, layout('Password changed', html`<h1>Password changed</h1>
<div class="notice" role="status"><p>The password of account <strong>${id}</strong> has been changed.
From now on only the new password works; your browser will ask for it.</p></div>
<p><a href="/">Back to the start page</a></p>`), { head: ctx.head });
}

/** The same policy as the API (lib/auth/policy), and both entries equal. */
function validate(password: string, confirm: string): FieldErrors {
  const problems: FieldErrors = {};
  try {
    checkNewPassword(password);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    problems.password = err.message;
  }
  if (confirm !== password) problems.confirm = 'The two passwords differ; type the same password twice';
  return problems;
}

function showForm(ctx: ResourceContext, id: string, status: number, problems: FieldErrors): void {
  const self = id === ctx.principal!.id;
  const invalid = FIELDS.filter((f) => problems[f.name]);
  const focus = invalid[0]?.name ?? 'password';
  const summary = invalid.length ? html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title">
<h2 id="error-summary-title">The password was not changed</h2>
<ul>${invalid.map((f) => html`<li><a href="#${f.name}">${problems[f.name]!}</a></li>`)}</ul>
</div>` : html``;
  const fields = FIELDS.map((f) => field(f, problems[f.name], f.name === focus));
  const title = self ? 'Change your password' : `Change the password of ${id}`;
  const body = html`<h1>${title}</h1>
<p>Account <strong>${id}</strong>${self ? html`` : html`, changed by <strong>${ctx.principal!.id}</strong>`}.</p>
${summary}
<form method="post" action="/password/${encodeURIComponent(id)}" accept-charset="utf-8" novalidate>
${fields}
<input type="hidden" name="csrf" value="${ctx.csrf.issue(ctx.principal!.id, id)}">
<button type="submit">Change password</button>
</form>`;
  sendHtml(ctx.res, status, layout(invalid.length ? `Error: ${title}` : title, body), { head: ctx.head });
}

function field(f: (typeof FIELDS)[number], problem: string | undefined, focus: boolean): Raw {
  const described = problem ? `${f.name}-hint ${f.name}-error` : `${f.name}-hint`;
  return html`<div class="field">
<label for="${f.name}">${f.label}</label>
<p class="hint" id="${f.name}-hint">${f.hint}</p>
${problem ? html`<p class="error" id="${f.name}-error"><span class="visually-hidden">Error: </span>${problem}</p>` : html``}
<input id="${f.name}" name="${f.name}" type="password" autocomplete="new-password" required minlength="8" aria-describedby="${described}"${problem ? html` aria-invalid="true"` : html``}${focus ? html` autofocus` : html``}>
</div>`;
}

function refused(ctx: ResourceContext, id: string): void {
  sendHtml(ctx.res, 403, layout('Form expired', html`<h1>Form expired</h1>
<div class="notice refused" role="alert"><p>This form has expired or was not issued to you, so nothing was changed.</p></div>
<p><a href="/password/${encodeURIComponent(id)}">Open the password form again</a></p>`), { head: ctx.head });
}

function notFound(ctx: ResourceContext, id: string): void {
  sendHtml(ctx.res, 404, layout('Unknown account', html`<h1>Unknown account</h1>
<p>There is no person <strong>${id}</strong> in this federation.</p>
<p><a href="/">Back to the start page</a></p>`), { head: ctx.head });
}
