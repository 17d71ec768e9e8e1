-- The impact ledger: every impact event once, keyed by its (deterministic) event id.
CREATE TABLE impact_ledger (
    event_id                text PRIMARY KEY,
    service_id              text NOT NULL,
    incident_id             text,
    state                   text NOT NULL,
    event_time              timestamptz NOT NULL,
    impact_rate             double precision NOT NULL,
    business_impact_minutes double precision NOT NULL,
    priority                text,
    high_visibility         boolean NOT NULL DEFAULT false,
    trace_id                text,
    payload                 jsonb NOT NULL,
    recorded_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX impact_ledger_service_time ON impact_ledger (service_id, event_time);
