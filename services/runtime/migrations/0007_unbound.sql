-- Events ingest could not bind to a catalog CI, projected from the unbound topic. A `waiting`
-- row is inserted once per event id; a replay's `bound` record turns it to `bound`, so applying
-- the topic twice leaves the table as it was.
CREATE TABLE view_unbound (
    event_id         text PRIMARY KEY,
    input            text NOT NULL,
    key              text NOT NULL,
    kind             text NOT NULL,
    status           text NOT NULL,
    received_at      timestamptz NOT NULL,
    event_time       timestamptz,
    state            text,
    summary          text NOT NULL DEFAULT '',
    reason           text NOT NULL,
    candidates       text[] NOT NULL,
    catalog_version  bigint NOT NULL,
    bound_ci_id      text,
    bound_rule       text,
    bound_at         timestamptz
);
CREATE INDEX view_unbound_group ON view_unbound (status, input, key, received_at);
