// HTTP Basic credentials. The account id is compared upper-cased, as upstream does.
import { isUtf8 } from 'node:buffer';
import { upperAscii } from '../http/params.js';

export interface Credentials {
  /** The account id upper-cased, as it is stored. */
  account: string;
  /** The account id as typed, for the PERSON_ID_PATTERN check. */
  typed: string;
  password: string;
}

/** Parses an Authorization header; anything malformed is no credentials at all. */
export function parseBasic(header: string | undefined): Credentials | undefined {
  if (!header) return undefined;
  const m = /^Basic[ \t]+([A-Za-z0-9+/=_-]+)[ \t]*$/i.exec(header);
  if (!m) return undefined;
  // Browsers and curl send UTF-8; Python's requests (MyGNUHealth, HMIS nodes) sends latin-1.
  const raw = Buffer.from(m[1]!, 'base64');
  const decoded = raw.toString(isUtf8(raw) ? 'utf8' : 'latin1');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  const typed = decoded.slice(0, colon);
  const account = upperAscii(typed);
  const password = decoded.slice(colon + 1);
  // eslint-disable-next-line no-control-regex
  if (account.length > 128 || /[\u0000-\u001f\u007f]/.test(account) || password.length > 4096) return undefined;
  return { account, typed, password };
}
