-- The change log of the relay (docs/relay.md): one row per insert, update and delete
-- of people, pols, personal_docs, dus and institutions, written by triggers, so writes
-- made by the API, an import script or by hand in psql all appear. A row names the
-- record (kind, id, its person and, for a document, its page) and never holds data:
-- no password, hash or document byte can reach it.
--
-- Commit order. `seq` is taken at COMMIT, by a deferred constraint trigger, under one
-- transaction-level advisory lock that is held until the commit has finished (single
-- ordered writer). PostgreSQL makes a transaction visible before it releases its locks,
-- so a transaction that takes a higher seq can only do so after every lower seq is
-- visible: the rows any reader sees always form a prefix of seq order (with gaps only
-- where a transaction rolled back after taking its number). A reader that remembers
-- the last seq it delivered therefore never skips a late commit, and `since` is a plain
-- number. The lock is held only from the trigger to the end of the commit (a
-- long-open transaction holds nothing), the same span in which NOTIFY already
-- serializes committing writers. Nothing else may call nextval() on changes_seq_seq,
-- and its CACHE must stay 1.
CREATE TABLE IF NOT EXISTS changes (
    seq bigserial PRIMARY KEY,
    -- The writing transaction (its id was taken at its first write; seq at its commit).
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind text NOT NULL CHECK (kind IN ('people', 'pols', 'documents', 'units', 'institutions')),
    id varchar NOT NULL,
    -- The person the record belongs to (a person's own id; a page's book; a document's
    -- fedacct); NULL for domiciliary units and institutions.
    person varchar,
    -- A document's page (personal_docs.pol); NULL otherwise.
    page varchar,
    op text NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- An end user follows their own changes; a node may follow one kind.
CREATE INDEX IF NOT EXISTS changes_person_idx ON changes (person, seq);
CREATE INDEX IF NOT EXISTS changes_kind_idx ON changes (kind, seq);
-- Retention finds its cut by time; `at` grows with seq, so a BRIN index (a few pages,
-- almost free to maintain) serves it.
CREATE INDEX IF NOT EXISTS changes_at_idx ON changes USING brin (at);

-- How far retention has purged: a `since` below it has missed rows (410).
CREATE TABLE IF NOT EXISTS changes_state (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    purged_through bigint NOT NULL DEFAULT 0
);
INSERT INTO changes_state (one) VALUES (true) ON CONFLICT DO NOTHING;

-- Appends the change rows of one row event; fired at commit (see above). An update
-- that moves a record (its id, person or page changed, by hand) is a delete of the old
-- one and a create of the new one, so a follower of either person learns of it.
CREATE OR REPLACE FUNCTION changes_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  k text := TG_ARGV[0];
  old_person varchar;
  new_person varchar;
  old_page varchar;
  new_page varchar;
BEGIN
  -- Only the branch of this table's columns runs (PL/pgSQL parses it on first use).
  IF TG_TABLE_NAME = 'people' THEN
    IF TG_OP <> 'INSERT' THEN old_person := OLD.id; END IF;
    IF TG_OP <> 'DELETE' THEN new_person := NEW.id; END IF;
  ELSIF TG_TABLE_NAME = 'pols' THEN
    IF TG_OP <> 'INSERT' THEN old_person := OLD.book; END IF;
    IF TG_OP <> 'DELETE' THEN new_person := NEW.book; END IF;
  ELSIF TG_TABLE_NAME = 'personal_docs' THEN
    IF TG_OP <> 'INSERT' THEN old_person := OLD.fedacct; old_page := OLD.pol; END IF;
    IF TG_OP <> 'DELETE' THEN new_person := NEW.fedacct; new_page := NEW.pol; END IF;
  END IF;
  -- The single ordered writer: held until this transaction's commit is complete.
  PERFORM pg_advisory_xact_lock(1952999470, 0);
  IF TG_OP = 'INSERT' THEN
    INSERT INTO changes (kind, id, person, page, op) VALUES (k, NEW.id, new_person, new_page, 'create');
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO changes (kind, id, person, page, op) VALUES (k, OLD.id, old_person, old_page, 'delete');
  ELSIF OLD.id IS DISTINCT FROM NEW.id OR old_person IS DISTINCT FROM new_person OR old_page IS DISTINCT FROM new_page THEN
    INSERT INTO changes (kind, id, person, page, op) VALUES (k, OLD.id, old_person, old_page, 'delete'), (k, NEW.id, new_person, new_page, 'create');
  ELSE
    INSERT INTO changes (kind, id, person, page, op) VALUES (k, NEW.id, new_person, new_page, 'update');
  END IF;
  -- One notification per transaction (PostgreSQL folds identical ones).
  PERFORM pg_notify('thalamus_changes', '');
  RETURN NULL;
END $$;

-- Two triggers per table: inserts and deletes always; updates only when the record as
-- clients see it changed (a person's password is never served, so a password change
-- or a login's rehash is not a change of the record).
DROP TRIGGER IF EXISTS changes_log ON people;
DROP TRIGGER IF EXISTS changes_log_update ON people;
CREATE CONSTRAINT TRIGGER changes_log AFTER INSERT OR DELETE ON people
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION changes_record('people');
CREATE CONSTRAINT TRIGGER changes_log_update AFTER UPDATE ON people
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR (OLD.data - 'password') IS DISTINCT FROM (NEW.data - 'password'))
    EXECUTE FUNCTION changes_record('people');

DROP TRIGGER IF EXISTS changes_log ON pols;
DROP TRIGGER IF EXISTS changes_log_update ON pols;
CREATE CONSTRAINT TRIGGER changes_log AFTER INSERT OR DELETE ON pols
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION changes_record('pols');
CREATE CONSTRAINT TRIGGER changes_log_update AFTER UPDATE ON pols
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.id, OLD.book, OLD.data) IS DISTINCT FROM (NEW.id, NEW.book, NEW.data))
    EXECUTE FUNCTION changes_record('pols');

DROP TRIGGER IF EXISTS changes_log ON personal_docs;
DROP TRIGGER IF EXISTS changes_log_update ON personal_docs;
CREATE CONSTRAINT TRIGGER changes_log AFTER INSERT OR DELETE ON personal_docs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION changes_record('documents');
CREATE CONSTRAINT TRIGGER changes_log_update AFTER UPDATE ON personal_docs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.id, OLD.fedacct, OLD.pol, OLD.data, OLD.document) IS DISTINCT FROM (NEW.id, NEW.fedacct, NEW.pol, NEW.data, NEW.document))
    EXECUTE FUNCTION changes_record('documents');

DROP TRIGGER IF EXISTS changes_log ON dus;
DROP TRIGGER IF EXISTS changes_log_update ON dus;
CREATE CONSTRAINT TRIGGER changes_log AFTER INSERT OR DELETE ON dus
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION changes_record('units');
CREATE CONSTRAINT TRIGGER changes_log_update AFTER UPDATE ON dus
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.id, OLD.data) IS DISTINCT FROM (NEW.id, NEW.data))
    EXECUTE FUNCTION changes_record('units');

DROP TRIGGER IF EXISTS changes_log ON institutions;
DROP TRIGGER IF EXISTS changes_log_update ON institutions;
CREATE CONSTRAINT TRIGGER changes_log AFTER INSERT OR DELETE ON institutions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION changes_record('institutions');
CREATE CONSTRAINT TRIGGER changes_log_update AFTER UPDATE ON institutions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.id, OLD.data) IS DISTINCT FROM (NEW.id, NEW.data))
    EXECUTE FUNCTION changes_record('institutions');

-- Deletes the rows older than `days` days, always a prefix of seq order, and records
-- how far it went. Returns the number of rows removed.
CREATE OR REPLACE FUNCTION changes_purge(days integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  upto bigint;
  removed bigint;
BEGIN
  IF days < 1 THEN
    RAISE EXCEPTION 'changes_purge: days must be at least 1';
  END IF;
  SELECT max(seq) INTO upto FROM changes WHERE at < now() - make_interval(days => days);
  IF upto IS NULL THEN
    RETURN 0;
  END IF;
  DELETE FROM changes WHERE seq <= upto;
  GET DIAGNOSTICS removed = ROW_COUNT;
  UPDATE changes_state SET purged_through = GREATEST(purged_through, upto);
  RETURN removed;
END $$;
