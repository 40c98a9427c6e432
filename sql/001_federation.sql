-- The federation's tables exactly as upstream Thalamus' federation_schema.sql creates
-- them, so an existing upstream database needs no change.
CREATE TABLE IF NOT EXISTS people (
    id varchar PRIMARY KEY,
    data jsonb
);

CREATE TABLE IF NOT EXISTS pols (
    id varchar PRIMARY KEY,
    book varchar REFERENCES people (id),
    data jsonb
);

CREATE TABLE IF NOT EXISTS personal_docs (
    id varchar PRIMARY KEY,
    fedacct varchar REFERENCES people (id),
    pol varchar REFERENCES pols (id),
    document bytea,
    data jsonb
);

CREATE TABLE IF NOT EXISTS dus (
    id varchar PRIMARY KEY,
    data jsonb
);

CREATE TABLE IF NOT EXISTS institutions (
    id varchar PRIMARY KEY,
    data jsonb
);
