-- The API's read model of incidents, projected from the incidents, ci-annotations and impact
-- topics. Every write is keyed by an event id, so a replayed message changes nothing.
CREATE TABLE incidents (
    incident_id             text PRIMARY KEY,
    correlation_domain      text NOT NULL,
    state                   text NOT NULL,
    opened_at               timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    acknowledged_at         timestamptz,
    resolved_at             timestamptz,
    affected_services       text[] NOT NULL DEFAULT '{}',
    member_cis              text[] NOT NULL DEFAULT '{}',
    root_cause_candidates   text[] NOT NULL DEFAULT '{}',
    suspect_changes         jsonb NOT NULL DEFAULT '[]',
    priority                text,
    high_visibility         boolean NOT NULL DEFAULT false,
    -- latest business impact minutes per affected service; their sum is the incident's
    impact_by_service       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incidents_opened ON incidents (opened_at DESC);
CREATE INDEX incidents_services ON incidents USING gin (affected_services);

CREATE TABLE incident_timeline (
    event_id     text PRIMARY KEY,
    incident_id  text NOT NULL,
    event_time   timestamptz NOT NULL,
    kind         text NOT NULL,  -- incident | member | impact
    action       text NOT NULL,
    summary      text NOT NULL,
    payload      jsonb NOT NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, event_time);
