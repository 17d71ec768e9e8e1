-- The API's read model of business service health, impact and feedback, projected from the
-- service-health, impact.all, feedback and ci-annotations topics. Each history row is keyed by its
-- event id, so a replayed message changes nothing; `recorded_at` is when the API stored it.
CREATE TABLE view_service_health (
    event_id        text PRIMARY KEY,
    service_id      text NOT NULL,
    state           text NOT NULL,
    previous_state  text NOT NULL,
    event_time      timestamptz NOT NULL,
    cause_ci_id     text NOT NULL,
    incident_id     text,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX view_service_health_time ON view_service_health (service_id, event_time);

CREATE TABLE view_impact (
    event_id                text PRIMARY KEY,
    service_id              text NOT NULL,
    business_domain         text NOT NULL,
    episode_id              text NOT NULL,
    incident_id             text,
    reason                  text NOT NULL,
    state                   text NOT NULL,
    event_time              timestamptz NOT NULL,
    users_affected          integer NOT NULL,
    impact_rate             double precision NOT NULL,
    business_impact_minutes double precision NOT NULL,
    calendar_period         text,
    calendar_weight         double precision,
    priority                text,
    high_visibility         boolean NOT NULL,
    recorded_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX view_impact_service ON view_impact (service_id, event_time);
CREATE INDEX view_impact_incident ON view_impact (incident_id, event_time);
CREATE INDEX view_impact_episode ON view_impact (episode_id, event_time);
CREATE INDEX view_impact_time ON view_impact (event_time);

CREATE TABLE view_feedback (
    event_id    text PRIMARY KEY,
    service_id  text NOT NULL,
    event_time  timestamptz NOT NULL,
    csat        smallint,
    -- VADER compound score of the comment, computed once when projected; null without a comment
    sentiment   double precision
);
CREATE INDEX view_feedback_time ON view_feedback (service_id, event_time);

-- CI state changes as correlate accepted them (the annotations), to find when a CI began failing
-- before the incident it belongs to was opened.
CREATE TABLE view_ci_changes (
    event_id     text PRIMARY KEY,
    ci_id        text NOT NULL,
    state        text NOT NULL,
    event_time   timestamptz NOT NULL,
    incident_id  text
);
CREATE INDEX view_ci_changes_time ON view_ci_changes (ci_id, event_time);

-- The latest state of each business service (by event time), so the board reads one row each.
CREATE TABLE view_service_now (
    service_id   text PRIMARY KEY,
    state        text NOT NULL,
    since        timestamptz NOT NULL,
    incident_id  text,
    cause_ci_id  text NOT NULL,
    event_id     text NOT NULL
);

-- The read model's clock: the event time of the newest projected health or impact event and
-- the wall time it was stored at. Scenarios and replays stamped ahead of the wall clock move
-- "now" with them, as the impact worker's episode time does.
CREATE TABLE view_clock (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    event_time  timestamptz NOT NULL,
    wall_time   timestamptz NOT NULL
);
