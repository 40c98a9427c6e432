// The public index page at `/`: what this server is and how to reach its API.
import { html, layout, pageReply } from './html.js';
import type { Reply } from '../http/reply.js';

const ENDPOINTS: Array<[string, string]> = [
  ['GET /login', 'check your credentials'],
  ['GET /people/<account>', 'a person of the Person Master Index'],
  ['GET /pols/<account>', "a person's Book of Life (their Pages of Life)"],
  ['GET /pols/<account>/<page>', 'one Page of Life'],
  ['GET /personal_docs/<account>', "a person's documents"],
  ['GET /domiciliary-units', 'domiciliary units'],
  ['GET /institutions', 'health institutions'],
  ['GET /openapi.json', 'the OpenAPI 3.1 description of every endpoint (no credentials needed)'],
  ['GET /docs', 'the same, as a page to read'],
];

const PAGE = layout('GNU Health Federation', html`<h1>Thalamus</h1>
<p>This is the message and authentication server of a GNU Health Federation. Hospitals'
HMIS nodes, the MyGNUHealth app and web portals exchange people, Pages of Life and
personal documents through its REST/JSON API.</p>
<h2>Reaching the API</h2>
<p>The API answers at this same address. Every request carries the HTTP Basic credentials
of a federation account (its id, for example <code>ESPGNU777ORG</code>, and its password);
what an account may do follows from its roles.</p>
<pre><code>curl -u ACCOUNT:PASSWORD https://this-server/people/ACCOUNT</code></pre>
<ul class="endpoints">
${ENDPOINTS.map(([path, what]) => html`<li><code>${path}</code>: ${what}</li>`)}
</ul>
<h2>Your password</h2>
<p>To change your password, open <code>/password/&lt;your account&gt;</code> in a browser
and sign in with your current password.</p>`);

/** The index is the same for everyone; a browser revalidates it on each visit. */
export function indexPage(): Reply {
  return pageReply(200, PAGE, 'no-cache');
}
