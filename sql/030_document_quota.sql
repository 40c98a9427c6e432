-- The quota of a person's book (DOCUMENT_QUOTA_BYTES, DOCUMENT_QUOTA_COUNT), checked by
-- an upload's own statement (lib/resources/uploads.ts). Uploads to one book take turns
-- on a transaction-level advisory lock (class 1952999480, key the book), held until the
-- upload commits; the count after it runs with a fresh snapshot (READ COMMITTED, a
-- VOLATILE function), so it holds every upload to that book that went before. Parallel
-- uploads can then never pass the quota together. 0 for a bound: no bound.
CREATE OR REPLACE FUNCTION document_quota_allows(p_book varchar, p_adding bigint, p_max_bytes bigint, p_max_docs bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  used_bytes bigint;
  used_docs bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(1952999480, hashtext(p_book));
  SELECT COALESCE(sum(octet_length(document)), 0), count(*) INTO used_bytes, used_docs
    FROM personal_docs WHERE fedacct = p_book;
  RETURN (p_max_bytes = 0 OR used_bytes + p_adding <= p_max_bytes)
     AND (p_max_docs = 0 OR used_docs + 1 <= p_max_docs);
END
$$;
