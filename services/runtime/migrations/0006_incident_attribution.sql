-- Business impact charged to incidents, by impact episode and by the set of incidents charged
-- together (docs/correlation.md, "Attribution"). An incident's minutes are the sum of every
-- row naming it or an incident merged into it; rows naming several incidents are shared.
CREATE TABLE incident_impact (
    episode_id      text NOT NULL,
    charge          text NOT NULL,   -- the sorted incident ids, comma-separated
    incident_ids    text[] NOT NULL,
    service_id      text NOT NULL,
    minutes         double precision NOT NULL,
    -- best priority and visibility of the impact events emitted while this set was charged
    priority        text,
    high_visibility boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (episode_id, charge)
);
CREATE INDEX incident_impact_incidents ON incident_impact USING gin (incident_ids);

-- What earlier versions kept per incident and service, carried over as one row each.
INSERT INTO incident_impact (
    episode_id, charge, incident_ids, service_id, minutes, priority, high_visibility, updated_at
)
SELECT 'legacy/' || i.incident_id || '/' || s.key, i.incident_id, ARRAY[i.incident_id], s.key,
       s.value::float8, i.priority, i.high_visibility, i.updated_at
FROM incidents i, jsonb_each_text(i.impact_by_service) s;

ALTER TABLE incidents
    DROP COLUMN impact_by_service,
    DROP COLUMN priority,
    DROP COLUMN high_visibility,
    ADD COLUMN absorbed text[] NOT NULL DEFAULT '{}',
    ADD COLUMN merged_into text;
