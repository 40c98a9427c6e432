-- Lockout by (account, client address) pair, by account from all addresses and by
-- address (docs/security.md), with attempts reserved before a password is verified.
--
-- login_reserve() counts the three scopes and inserts the attempt's rows (pending)
-- under advisory locks, so concurrent logins of one account can never verify more
-- passwords than the limits allow. login_release() removes a successful attempt's rows;
-- login_fail() confirms a failed one and, when a scope has reached its limit, writes a
-- lock row saying until when, so a request that needs no verification checks one
-- primary-key index instead of counting failures.
ALTER TABLE login_failures DROP CONSTRAINT IF EXISTS login_failures_scope_check;
ALTER TABLE login_failures ADD CONSTRAINT login_failures_scope_check CHECK (scope IN ('account', 'address', 'pair'));
ALTER TABLE login_failures ADD COLUMN IF NOT EXISTS attempt bigint;
ALTER TABLE login_failures ADD COLUMN IF NOT EXISTS pending boolean NOT NULL DEFAULT false;
CREATE SEQUENCE IF NOT EXISTS login_attempt_seq;
CREATE INDEX IF NOT EXISTS login_failures_attempt_idx ON login_failures (attempt) WHERE attempt IS NOT NULL;

CREATE TABLE IF NOT EXISTS login_locks (
    scope text NOT NULL CHECK (scope IN ('account', 'address', 'pair')),
    key text NOT NULL,
    until timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Failures of one scope and key in the window (pending ones too unless `confirmed`),
-- counted no further than `cap`.
CREATE OR REPLACE FUNCTION login_failure_count(p_scope text, p_key text, p_window integer, p_cap integer, p_confirmed boolean)
RETURNS integer LANGUAGE sql VOLATILE AS $$
  SELECT count(*)::integer FROM (SELECT 1 FROM login_failures
    WHERE scope = p_scope AND key = p_key AND failed_at > clock_timestamp() - make_interval(secs => p_window)
      AND NOT (p_confirmed AND pending) LIMIT p_cap) f
$$;

-- When the `limit`-th most recent failure (confirmed, if `confirmed`) of a scope and
-- key leaves the window.
CREATE OR REPLACE FUNCTION login_lock_end(p_scope text, p_key text, p_window integer, p_limit integer, p_confirmed boolean)
RETURNS timestamptz LANGUAGE sql VOLATILE AS $$
  SELECT min(failed_at) + make_interval(secs => p_window)
  FROM (SELECT failed_at FROM login_failures WHERE scope = p_scope AND key = p_key
          AND failed_at > clock_timestamp() - make_interval(secs => p_window) AND NOT (p_confirmed AND pending)
        ORDER BY failed_at DESC LIMIT p_limit) recent
$$;

-- The account lock is always taken before the address lock, so two callers never wait
-- on each other in a cycle. Each statement after them sees what committed before they
-- were granted (READ COMMITTED, VOLATILE functions take a fresh snapshot).
CREATE OR REPLACE FUNCTION login_lock_keys(p_account text, p_address text) RETURNS void
LANGUAGE sql VOLATILE AS $$
  SELECT pg_advisory_xact_lock(1952999468, hashtext(p_account));
  SELECT pg_advisory_xact_lock(1952999469, hashtext(p_address));
$$;

-- Reserves one login attempt: NULL and the seconds to wait when any limit is reached
-- (counting pending attempts), otherwise the attempt's number.
CREATE OR REPLACE FUNCTION login_reserve(p_account text, p_address text, p_window integer,
    p_pair_limit integer, p_account_limit integer, p_address_limit integer)
RETURNS TABLE (attempt bigint, retry_after integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  pair_key text := p_account || ' ' || p_address;
  ends timestamptz := NULL;
  reserved bigint;
BEGIN
  PERFORM login_lock_keys(p_account, p_address);
  IF login_failure_count('pair', pair_key, p_window, p_pair_limit, false) >= p_pair_limit THEN
    ends := GREATEST(ends, login_lock_end('pair', pair_key, p_window, p_pair_limit, false));
  END IF;
  IF login_failure_count('account', p_account, p_window, p_account_limit, false) >= p_account_limit THEN
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

-- A reserved attempt failed: its rows become confirmed failures, and each scope that
-- has reached its limit with confirmed failures gets (or extends) its lock row.
CREATE OR REPLACE FUNCTION login_fail(p_attempt bigint, p_account text, p_address text, p_window integer,
    p_pair_limit integer, p_account_limit integer, p_address_limit integer)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  pair_key text := p_account || ' ' || p_address;
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
