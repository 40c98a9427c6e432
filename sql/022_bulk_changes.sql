-- A bulk import (lib/bulk/import.ts) writes its change rows itself, set-based, at its
-- commit. Row by row, the deferred triggers of 020_changes.sql cost more than the inserts
-- they follow (200,000 people imported: 7.8 s with them, 3.3 s without), so the insert
-- triggers skip the rows of a transaction that sets `thalamus.bulk_import` (SET LOCAL;
-- the WHEN is checked as each row is written, so no trigger event is even queued). Such
-- a transaction notes what it inserted in its temporary table `bulk_changes` and calls
-- changes_log_bulk() as its last statement before COMMIT: the rows go into `changes` in
-- the order they were inserted, under the single ordered writer's lock, which is then
-- held to the end of the commit, as the triggers' is. Updates are logged as before.

CREATE OR REPLACE FUNCTION changes_log_bulk() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  logged bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(1952999470, 0);
  INSERT INTO changes (kind, id, person, page, op)
    SELECT kind, id, person, page, 'create' FROM pg_temp.bulk_changes ORDER BY ord;
  GET DIAGNOSTICS logged = ROW_COUNT;
  IF logged > 0 THEN PERFORM pg_notify('thalamus_changes', ''); END IF;
  RETURN logged;
END $$;

-- The insert (and delete) trigger of each table of 020_changes.sql, again, with the WHEN.
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT * FROM (VALUES ('people', 'people'), ('pols', 'pols'), ('personal_docs', 'documents'), ('dus', 'units'), ('institutions', 'institutions')) AS v(tab, kind) LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS changes_log ON %I', t.tab);
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER changes_log AFTER INSERT OR DELETE ON %I
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (current_setting('thalamus.bulk_import', true) IS DISTINCT FROM 'on')
        EXECUTE FUNCTION changes_record(%L)$t$, t.tab, t.kind);
  END LOOP;
END $$;
