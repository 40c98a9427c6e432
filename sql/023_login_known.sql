-- Addresses known for an account (docs/security.md, issue 20): a successful login from
-- an address marks it for LOCKOUT_KNOWN_ADDRESS_DAYS. The lock of an account from every
-- address (a distributed attack, or failures forged through a trusted proxy) does not
-- apply there: a node keeps working from its own address, where the pair limit still
-- holds. New addresses stay locked.
CREATE TABLE IF NOT EXISTS login_known (
    account text NOT NULL,
    address text NOT NULL,
    until timestamptz NOT NULL,
    PRIMARY KEY (account, address)
);

-- login_reserve of 012_lockout_pairs.sql, with the account's limit skipped at a known address.
CREATE OR REPLACE FUNCTION login_reserve(p_account text, p_address text, p_window integer,
    p_pair_limit integer, p_account_limit integer, p_address_limit integer)
RETURNS TABLE (attempt bigint, retry_after integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  pair_key text := p_account || ' ' || p_address;
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
