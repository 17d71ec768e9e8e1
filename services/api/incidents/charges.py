"""The SQL of the business impact charged to incidents (table `incident_impact`).

docs/correlation.md ("Attribution") and docs/scoring.md (section 8) state the rules: an
incident's minutes are the sum of every episode's minutes charged to it or to an incident merged
into it; minutes charged together with an incident outside that family are shared, and stated.
"""

from __future__ import annotations

from impactline.core.contracts import ImpactEvent


def episode_key(event: ImpactEvent) -> str:
    """The impact episode of an event; events from before episodes had ids still group by
    service and episode start."""
    if event.episode_id:
        return event.episode_id
    started = event.started_at.isoformat() if event.started_at else event.id
    return f"{event.service_id}@{started}"


# One row per episode and set of incidents charged together; every figure only grows, so the
# upsert is idempotent and indifferent to the order impact events arrive in.
UPSERT_CHARGE = """
INSERT INTO incident_impact AS c (
    episode_id, charge, incident_ids, service_id, minutes, priority, high_visibility, updated_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (episode_id, charge) DO UPDATE SET
    minutes = GREATEST(c.minutes, EXCLUDED.minutes),
    priority = CASE WHEN EXCLUDED.priority IS NULL THEN c.priority
                    WHEN c.priority IS NULL OR EXCLUDED.priority < c.priority
                    THEN EXCLUDED.priority ELSE c.priority END,
    high_visibility = c.high_visibility OR EXCLUDED.high_visibility,
    updated_at = GREATEST(c.updated_at, EXCLUDED.updated_at)
"""

# An incident's figures: every charge naming it or an incident merged into it ("family").
# Minutes of a charge shared with an incident outside the family are also stated as shared.
FIGURES = """
LEFT JOIN LATERAL (
    SELECT COALESCE(sum(c.minutes), 0) AS business_impact_minutes,
           COALESCE(sum(c.minutes) FILTER (
               WHERE NOT c.incident_ids <@ (ARRAY[i.incident_id] || i.absorbed)), 0)
               AS shared_impact_minutes,
           min(c.priority) AS priority,
           COALESCE(bool_or(c.high_visibility), false) AS high_visibility,
           ARRAY(SELECT DISTINCT x FROM incident_impact d, unnest(d.incident_ids) x
                 WHERE d.incident_ids && (ARRAY[i.incident_id] || i.absorbed)
                   AND x <> ALL(ARRAY[i.incident_id] || i.absorbed) ORDER BY 1) AS shared_with
    FROM incident_impact c
    WHERE c.incident_ids && (ARRAY[i.incident_id] || i.absorbed)
) f ON true
"""

SELECT_BY_SERVICE = """
SELECT c.service_id,
       sum(c.minutes) AS business_impact_minutes,
       COALESCE(sum(c.minutes) FILTER (WHERE NOT c.incident_ids <@ $1::text[]), 0)
           AS shared_impact_minutes,
       min(c.priority) AS priority
FROM incident_impact c
WHERE c.incident_ids && $1::text[]
GROUP BY c.service_id
ORDER BY c.service_id
"""
