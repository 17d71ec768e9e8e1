-- API keys of the HTTP services. Only the SHA-256 digest of each key is stored: keys are 256-bit
-- random strings, so the digest cannot be reversed or guessed, and it can be looked up by index.
CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    name        text NOT NULL DEFAULT '',
    scopes      text[] NOT NULL
                CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['ingest', 'read', 'admin']),
    key_hash    text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
