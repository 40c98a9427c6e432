-- The audit trail: who read or wrote which health record, and every failed login.
-- Append-only: a trigger refuses UPDATE, TRUNCATE and any DELETE not made by
-- audit_purge(). For a guarantee that holds against the application's own role, make
-- the table and the function belong to another role (docs/security.md).
CREATE TABLE IF NOT EXISTS audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor varchar,
    actor_roles text[] NOT NULL DEFAULT '{}',
    action text NOT NULL,
    route text NOT NULL,
    record_id varchar,
    person varchar,
    status integer NOT NULL,
    client text,
    request_id text
);
CREATE INDEX IF NOT EXISTS audit_at_idx ON audit (at);
CREATE INDEX IF NOT EXISTS audit_person_idx ON audit (person, id);

CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('thalamus.audit_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit rows are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

DROP TRIGGER IF EXISTS audit_append_only ON audit;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
DROP TRIGGER IF EXISTS audit_no_truncate ON audit;
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- Deletes rows older than `days` days; the only way rows leave the table. SECURITY
-- DEFINER, so once the table belongs to another role the application can still purge.
CREATE OR REPLACE FUNCTION audit_purge(days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  removed bigint;
BEGIN
  IF days < 1 THEN
    RAISE EXCEPTION 'audit_purge: days must be at least 1';
  END IF;
  PERFORM set_config('thalamus.audit_purge', 'on', true);
  DELETE FROM audit WHERE at < now() - make_interval(days => days);
  GET DIAGNOSTICS removed = ROW_COUNT;
  PERFORM set_config('thalamus.audit_purge', 'off', true);
  RETURN removed;
END $$;
