-- Every catalog version ever stored; the current catalog is the one with the highest version.
-- Rows are never updated: a replacement adds a row, so earlier versions stay readable.
CREATE TABLE catalog_versions (
    version            bigserial PRIMARY KEY,
    fingerprint        text NOT NULL,
    documents          jsonb NOT NULL,
    document_names     text[] NOT NULL,
    services           integer NOT NULL,
    technical_services integer NOT NULL,
    cis                integer NOT NULL,
    domains            integer NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text NOT NULL
);
