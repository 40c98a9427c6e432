// `thalamus user add|passwd|roles|deactivate|unlock`: account administration without
// SQL. Ids follow the API's rules (PERSON_ID_PATTERN, upper-cased), roles must be ones
// roles.cfg defines, passwords the API's policy, and every change is audited with the
// operator's OS account as the actor (lib/admin/accounts.ts).
import type { Command } from 'commander';
import type { Config } from '../../../lib/config.js';
import { personId } from '../../../lib/http/params.js';
import { HttpError } from '../../../lib/http/errors.js';
import { checkNewPassword } from '../../../lib/auth/policy.js';
import { hashPassword } from '../../../lib/auth/passwords.js';
import { passwordSettingsOf } from '../../../lib/auth/password-settings.js';
import { addAccount, deactivate, setPasswordHash, setRoles, unlockAccount } from '../../../lib/admin/accounts.js';
import { CliError, usage } from '../errors.js';
import { readConfig, readAcl, withDatabase, operator, type Globals } from '../runtime.js';
import { readNewPassword } from '../password.js';

/** A person id as the API takes it from a URL: the pattern (before upper-casing), then upper case. */
function accountId(raw: string, config: Config): string {
  let id: string;
  try {
    id = personId(raw);
  } catch {
    throw usage(`${JSON.stringify(raw)} is not a valid person id`);
  }
  if (!config.personIdPattern.test(raw)) throw usage(`person ids must match ${config.personIdPattern.source} (PERSON_ID_PATTERN): ${JSON.stringify(raw)}`);
  return id;
}

/** Refuses roles roles.cfg does not define: such a role gives no rights, so it is a typo. */
function checkRoles(roles: string[], config: Config): string[] {
  const acl = readAcl(config);
  const unknown = roles.filter((r) => !acl.has(r));
  if (unknown.length) throw usage(`${config.acl} defines no role ${unknown.map((r) => JSON.stringify(r)).join(', ')} (it has ${[...acl.keys()].join(', ')})`);
  return [...new Set(roles)];
}

/** The hash of a new password that passes the policy (PASSWORD_MIN_LENGTH), made as `config`'s workers make one. */
async function newHash(id: string, fromStdin: boolean, config: Config): Promise<string> {
  const settings = passwordSettingsOf(config);
  const plain = await readNewPassword(id, fromStdin);
  try {
    checkNewPassword(plain, settings.minLength);
  } catch (err) {
    if (err instanceof HttpError) throw new CliError(`${err.message}; nothing was changed`);
    throw err;
  }
  return hashPassword(plain, settings);
}

const missing = (id: string) => new CliError(`no person ${id} in the federation`);

export function registerUser(program: Command, globals: () => Globals): void {
  const user = program.command('user').description('administer accounts: add, passwd, roles, deactivate, unlock');

  user.command('add <id>')
    .description('create an account that can log in (roles, active, a password)')
    .option('-r, --role <role...>', 'its roles, defined in roles.cfg', ['end_user'])
    .option('--password-stdin', 'read the password from standard input instead of asking twice at the terminal')
    .option('--no-password', 'create it without a password (it cannot log in until `user passwd`)')
    .action(async (raw: string, opts: { role: string[]; passwordStdin?: boolean; password: boolean }) => {
      const config = readConfig();
      const id = accountId(raw, config);
      const roles = checkRoles(opts.role, config);
      const hash = opts.password ? await newHash(id, Boolean(opts.passwordStdin), config) : null;
      const created = await withDatabase(config, globals(), (pool) => addAccount(pool, operator('cli user add'), id, roles, hash));
      if (!created) throw new CliError(`${id} exists already; nothing was changed (see \`thalamus user --help\`)`);
      process.stdout.write(`created ${id} with roles ${roles.join(', ')}${hash ? '' : ', without a password'}\n`);
    });

  user.command('passwd <id>')
    .description('set a new password (hashed as PASSWORD_HASH says)')
    .option('--password-stdin', 'read the password from standard input instead of asking twice at the terminal')
    .action(async (raw: string, opts: { passwordStdin?: boolean }) => {
      const config = readConfig();
      const id = accountId(raw, config);
      const hash = await newHash(id, Boolean(opts.passwordStdin), config);
      if (!(await withDatabase(config, globals(), (pool) => setPasswordHash(pool, operator('cli user passwd'), id, hash)))) throw missing(id);
      process.stdout.write(`password of ${id} changed\n`);
    });

  user.command('roles <id> <role...>')
    .description('replace the roles of an account')
    .action(async (raw: string, list: string[]) => {
      const config = readConfig();
      const id = accountId(raw, config);
      const roles = checkRoles(list, config);
      if (!(await withDatabase(config, globals(), (pool) => setRoles(pool, operator('cli user roles'), id, roles)))) throw missing(id);
      process.stdout.write(`roles of ${id}: ${roles.join(', ')}\n`);
    });

  user.command('deactivate <id>')
    .description('set "active" to false: the account can no longer log in')
    .action(async (raw: string) => {
      const config = readConfig();
      const id = accountId(raw, config);
      if (!(await withDatabase(config, globals(), (pool) => deactivate(pool, operator('cli user deactivate'), id)))) throw missing(id);
      process.stdout.write(`${id} deactivated\n`);
    });

  user.command('unlock <id>')
    .description("clear the account's failed-login lockout (from every address)")
    .action(async (raw: string) => {
      const config = readConfig();
      const id = accountId(raw, config);
      const { removed, account } = await withDatabase(config, globals(), (pool) => unlockAccount(pool, operator('cli user unlock'), id));
      const rows = `${removed} failed-login ${removed === 1 ? 'row' : 'rows'} removed`;
      // A script must not take a typo for an unlocked account.
      if (!account && removed === 0) throw new CliError(`${id}: no such account, and no failed logins under that id`);
      process.stdout.write(account ? `${id} unlocked (${rows})\n` : `${id} is no account; its lockout is cleared (${rows})\n`);
    });
}
