-- Lockout by (account, client address) pair, by account from all addresses and by
-- address (docs/security.md), with attempts reserved before a password is verified:
-- login_reserve() counts and inserts under advisory locks, so concurrent logins of one
-- account can never verify more passwords than the limits allow. A reservation is a
-- failure until login_release() removes it after a successful verification.
ALTER TABLE login_failures DROP CONSTRAINT IF EXISTS login_failures_scope_check;
ALTER TABLE login_failures ADD CONSTRAINT login_failures_scope_check CHECK (scope IN ('account', 'address', 'pair'));
ALTER TABLE login_failures ADD COLUMN IF NOT EXISTS attempt bigint;
CREATE SEQUENCE IF NOT EXISTS login_attempt_seq;
CREATE INDEX IF NOT EXISTS login_failures_attempt_idx ON login_failures (attempt) WHERE attempt IS NOT NULL;

-- Failures of one scope and key in the window, counted no further than `cap`.
CREATE OR REPLACE FUNCTION login_failure_count(p_scope text, p_key text, p_window integer, p_cap integer) RETURNS integer
LANGUAGE sql VOLATILE AS $$
  SELECT count(*)::integer FROM (SELECT 1 FROM login_failures
    WHERE scope = p_scope AND key = p_key AND failed_at > clock_timestamp() - make_interval(secs => p_window) LIMIT p_cap) f
$$;

-- Seconds until the `limit`-th most recent failure of a scope and key leaves the window.
CREATE OR REPLACE FUNCTION login_retry_after(p_scope text, p_key text, p_window integer, p_limit integer) RETURNS integer
LANGUAGE sql VOLATILE AS $$
  SELECT GREATEST(1, COALESCE(ceil(extract(epoch FROM min(failed_at) + make_interval(secs => p_window) - clock_timestamp()))::integer, 1))
  FROM (SELECT failed_at FROM login_failures WHERE scope = p_scope AND key = p_key
          AND failed_at > clock_timestamp() - make_interval(secs => p_window)
        ORDER BY failed_at DESC LIMIT p_limit) recent
$$;

-- Reserves one login attempt: NULL attempt and the seconds to wait when any limit is
-- reached, otherwise the attempt's number (its three failure rows are inserted). The
-- account lock is always taken before the address lock, so two reservations never
-- wait on each other in a cycle. Runs in the caller's statement; each SELECT below
-- sees what committed before the locks were granted (READ COMMITTED, VOLATILE).
CREATE OR REPLACE FUNCTION login_reserve(p_account text, p_address text, p_window integer,
    p_pair_limit integer, p_account_limit integer, p_address_limit integer)
RETURNS TABLE (attempt bigint, retry_after integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  pair_key text := p_account || ' ' || p_address;
  wait integer := 0;
  reserved bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(1952999468, hashtext(p_account));
  PERFORM pg_advisory_xact_lock(1952999469, hashtext(p_address));
  IF login_failure_count('pair', pair_key, p_window, p_pair_limit) >= p_pair_limit THEN
    wait := GREATEST(wait, login_retry_after('pair', pair_key, p_window, p_pair_limit));
  END IF;
  IF login_failure_count('account', p_account, p_window, p_account_limit) >= p_account_limit THEN
    wait := GREATEST(wait, login_retry_after('account', p_account, p_window, p_account_limit));
  END IF;
  IF login_failure_count('address', p_address, p_window, p_address_limit) >= p_address_limit THEN
    wait := GREATEST(wait, login_retry_after('address', p_address, p_window, p_address_limit));
  END IF;
  IF wait > 0 THEN
    RETURN QUERY SELECT NULL::bigint, wait;
    RETURN;
  END IF;
  reserved := nextval('login_attempt_seq');
  INSERT INTO login_failures (scope, key, attempt)
    VALUES ('pair', pair_key, reserved), ('account', p_account, reserved), ('address', p_address, reserved);
  RETURN QUERY SELECT reserved, 0;
END $$;
