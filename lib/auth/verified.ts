// Who a request is, once lib/auth admitted it: the principal, and the stored state its
// verification relied on. One type for every use of that state: the credential cache
// keeps it (cache.ts), the one-round-trip guard compares it with the stored person in
// the request's statement (guard.ts), and what outlives the statement (a change stream,
// a long poll) re-checks it before each delivery (standing.ts, as ctx.standing).

export interface Principal {
  /** Federation account id, upper case. */
  id: string;
  roles: string[];
}

export interface Verified {
  principal: Principal;
  /** The stored hash the password was verified against. */
  hash: string;
  /** `data->'roles'` as stored, as JSON text ('null' when absent). */
  rolesJson: string;
  /** The address the lockout counts the request under (lockout.ts lockoutAddress). */
  lockoutAddress: string;
}
