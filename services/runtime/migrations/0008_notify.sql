-- The notify process's own tables. The delivery log is an outbox: the consumer writes each
-- planned delivery here (keyed by a derived delivery id, so a redelivered message adds nothing)
-- before committing its offsets, and one dispatcher per destination sends from it.
CREATE TABLE notify_deliveries (
    seq                bigserial UNIQUE,
    delivery_id        text PRIMARY KEY,
    destination        text NOT NULL,
    kind               text NOT NULL,
    action             text NOT NULL,
    subject            text NOT NULL,
    source_topic       text NOT NULL,
    source_event_id    text NOT NULL,
    incident_id        text,
    service_id         text,
    priority           text,
    notice             jsonb NOT NULL,
    status             text NOT NULL DEFAULT 'pending',  -- pending | sent | skipped | dead
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL,
    lease_until        timestamptz,
    last_error         text,
    external_ref       text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    sent_at            timestamptz,
    -- grows with every change; the deliveries topic carries each version once
    version            integer NOT NULL DEFAULT 1,
    published_version  integer NOT NULL DEFAULT 0
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (destination, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX notify_deliveries_subject ON notify_deliveries (destination, subject, seq)
    WHERE status = 'pending';
CREATE INDEX notify_deliveries_incident ON notify_deliveries (incident_id);
CREATE INDEX notify_deliveries_held ON notify_deliveries (subject);
CREATE INDEX notify_deliveries_unpublished ON notify_deliveries (seq)
    WHERE published_version < version;

-- What each destination tracks for a subject: its own reference (PagerDuty dedup key,
-- ServiceNow sys_id, Jira issue key, Slack channel:ts) and the state we last gave it.
CREATE TABLE notify_subjects (
    destination   text NOT NULL,
    subject       text NOT NULL,
    incident_id   text,
    external_ref  text,
    display_ref   text,
    state         text NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (destination, subject)
);
CREATE INDEX notify_subjects_ref ON notify_subjects (destination, external_ref);

-- The incidents as notify last saw them on the incidents topic: root cause, suspects, state.
CREATE TABLE notify_incidents (
    incident_id            text PRIMARY KEY,
    correlation_domain     text NOT NULL,
    state                  text NOT NULL,
    affected_services      text[] NOT NULL DEFAULT '{}',
    root_cause_candidates  text[] NOT NULL DEFAULT '{}',
    suspect_changes        jsonb NOT NULL DEFAULT '[]',
    event_time             timestamptz NOT NULL
);

-- P1 pages, so an unacknowledged one is escalated along its service's escalation path.
CREATE TABLE notify_pages (
    subject      text PRIMARY KEY,
    incident_id  text,
    service_id   text NOT NULL,
    priority     text,
    notice       jsonb NOT NULL,
    paged_at     timestamptz NOT NULL,
    level        integer NOT NULL DEFAULT 1,
    closed       boolean NOT NULL DEFAULT false
);
CREATE INDEX notify_pages_open ON notify_pages (paged_at) WHERE NOT closed;

-- notify's "now" follows the events it handles (as the API's read model does): the newest event
-- time seen, moved on by the wall time since. Commands it sends back are stamped with it.
CREATE TABLE notify_clock (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    event_time  timestamptz NOT NULL,
    wall_time   timestamptz NOT NULL
);
