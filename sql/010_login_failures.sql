-- Failed logins, one row per failure and scope ('account' or 'address'), so every
-- worker and every instance on this database sees the same counts (docs/security.md).
-- Rows older than the lockout window are purged by the servers.
CREATE TABLE IF NOT EXISTS login_failures (
    scope text NOT NULL CHECK (scope IN ('account', 'address')),
    key text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS login_failures_key_idx ON login_failures (scope, key, failed_at);
CREATE INDEX IF NOT EXISTS login_failures_at_idx ON login_failures (failed_at);
