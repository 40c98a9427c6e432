-- Upstream has no index on the foreign keys: reading one person's book or documents
-- scanned the whole table.
CREATE INDEX IF NOT EXISTS pols_book_idx ON pols (book);
CREATE INDEX IF NOT EXISTS personal_docs_fedacct_idx ON personal_docs (fedacct);
CREATE INDEX IF NOT EXISTS personal_docs_pol_idx ON personal_docs (pol);
