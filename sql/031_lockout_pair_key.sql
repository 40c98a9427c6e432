-- The key of a lockout pair (an account and a client address) spelled in one place:
-- login_pair_key(). login_reserve and login_fail (012, 023) are redefined to use it,
-- lib/auth/lockout.ts probes login_locks with it, and `thalamus user unlock`
-- (lib/admin/accounts.ts) finds an account's pairs by the prefix login_pair_key(id, '').
-- Only CREATE OR REPLACE: it runs on a database migrated before, and again, changing
-- no row (the keys it makes are the ones stored: account, a space, the address).

-- A plain SQL expression, IMMUTABLE: the planner inlines it, so a probe of login_locks
-- still uses the primary-key index and costs what the concatenation did.
CREATE OR REPLACE FUNCTION login_pair_key(p_account text, p_address text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_account || ' ' || p_address
$$;

-- login_reserve of 023_login_known.sql, its pair key from login_pair_key().
CREATE OR REPLACE FUNCTION login_reserve(p_account text, p_address text, p_window integer,
    p_pair_limit integer, p_account_limit integer, p_address_limit integer)
RETURNS TABLE (attempt bigint, retry_after integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  pair_key text := login_pair_key(p_account, p_address);
  ends timestamptz := NULL;
  reserved bigint;
  known boolean;
BEGIN
  PERFORM login_lock_keys(p_account, p_address);
  known := EXISTS (SELECT 1 FROM login_known k WHERE k.account = p_account AND k.address = p_address AND k.until > clock_timestamp());
  IF login_failure_count('pair', pair_key, p_window, p_pair_limit, false) >= p_pair_limit THEN
    ends := GREATEST(ends, login_lock_end('pair', pair_key, p_window, p_pair_limit, false));
  END IF;
  IF NOT known AND login_failure_count('account', p_account, p_window, p_account_limit, false) >= p_account_limit THEN
    ends := GREATEST(ends, login_lock_end('account', p_account, p_window, p_account_limit, false));
  END IF;
  IF login_failure_count('address', p_address, p_window, p_address_limit, false) >= p_address_limit THEN
    ends := GREATEST(ends, login_lock_end('address', p_address, p_window, p_address_limit, false));
  END IF;
  IF ends IS NOT NULL THEN
    RETURN QUERY SELECT NULL::bigint, GREATEST(1, ceil(extract(epoch FROM ends - clock_timestamp()))::integer);
    RETURN;
  END IF;
  reserved := nextval('login_attempt_seq');
  INSERT INTO login_failures (scope, key, attempt, pending)
    VALUES ('pair', pair_key, reserved, true), ('account', p_account, reserved, true), ('address', p_address, reserved, true);
  RETURN QUERY SELECT reserved, 0;
END $$;

-- login_fail of 012_lockout_pairs.sql, its pair key from login_pair_key().
CREATE OR REPLACE FUNCTION login_fail(p_attempt bigint, p_account text, p_address text, p_window integer,
    p_pair_limit integer, p_account_limit integer, p_address_limit integer)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  pair_key text := login_pair_key(p_account, p_address);
  s record;
BEGIN
  PERFORM login_lock_keys(p_account, p_address);
  UPDATE login_failures SET pending = false WHERE attempt = p_attempt;
  FOR s IN SELECT * FROM (VALUES ('pair', pair_key, p_pair_limit), ('account', p_account, p_account_limit), ('address', p_address, p_address_limit)) v(scope, key, lim) LOOP
    IF login_failure_count(s.scope, s.key, p_window, s.lim, true) >= s.lim THEN
      INSERT INTO login_locks (scope, key, until) VALUES (s.scope, s.key, login_lock_end(s.scope, s.key, p_window, s.lim, true))
        ON CONFLICT (scope, key) DO UPDATE SET until = GREATEST(login_locks.until, EXCLUDED.until);
    END IF;
  END LOOP;
END $$;
