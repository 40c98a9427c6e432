-- Push subscriptions (docs/relay.md): a node's URL that receives the changes it may
-- see, in batches signed with its secret, from `last_seq` on. `last_seq` moves only
-- once the receiver acknowledged a batch (a 2xx), so a restart or a killed worker
-- resumes there. The worker delivering a subscription holds a session advisory lock
-- on its id (class 1952999471), so only one worker of all instances sends it at a time.
CREATE TABLE IF NOT EXISTS subscriptions (
    id bigserial PRIMARY KEY,
    -- The account that registered it; its rights decide, at every batch, what is sent.
    owner varchar NOT NULL,
    url text NOT NULL,
    -- The HMAC-SHA256 key of X-Thalamus-Signature (the raw key is needed to sign).
    secret text NOT NULL,
    -- NULL: every kind the owner may see.
    kinds text[],
    person varchar,
    include_docs boolean NOT NULL DEFAULT false,
    last_seq bigint NOT NULL DEFAULT 0,
    state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'failing', 'paused')),
    last_error text,
    attempts integer NOT NULL DEFAULT 0,
    failing_since timestamptz,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, url)
);
CREATE INDEX IF NOT EXISTS subscriptions_due_idx ON subscriptions (next_attempt_at) WHERE state <> 'paused';
