-- The API's view of deliveries, projected from the deliveries topic (notify publishes every
-- change of its delivery log there). A record replaces the stored one only if it is newer.
CREATE TABLE view_deliveries (
    delivery_id      text PRIMARY KEY,
    version          integer NOT NULL,
    destination      text NOT NULL,
    kind             text NOT NULL,
    action           text NOT NULL,
    source_topic     text NOT NULL,
    source_event_id  text NOT NULL,
    subject          text NOT NULL,
    incident_id      text,
    service_id       text,
    priority         text,
    status           text NOT NULL,
    attempts         integer NOT NULL,
    last_error       text,
    external_ref     text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX view_deliveries_incident ON view_deliveries (incident_id, created_at);
CREATE INDEX view_deliveries_recent ON view_deliveries (updated_at DESC);
