-- Listings stream in id order (a listing that gave its connection back while its client
-- was slow resumes after the last id it sent), so a person's book and documents are read
-- from an index in that order instead of being sorted. (book, id) and (fedacct, id) serve
-- every lookup by book or fedacct alone too, upstream's queries included, so the
-- single-column indexes of 002 go. Building an index blocks writes to its table meanwhile:
-- on a large upstream database the first start after upgrading takes that long.
CREATE INDEX IF NOT EXISTS pols_book_id_idx ON pols (book, id);
DROP INDEX IF EXISTS pols_book_idx;
CREATE INDEX IF NOT EXISTS personal_docs_fedacct_id_idx ON personal_docs (fedacct, id);
DROP INDEX IF EXISTS personal_docs_fedacct_idx;
