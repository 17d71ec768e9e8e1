"""Each input format as the routes use it: how a request body becomes a Translation.

The same functions re-validate a dead letter on replay: the payload of an HTTP dead letter is
the rejected item, which is itself a valid body for the route it came from (a rejected alert is
kept as a one-alert notification for that reason).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from impactline.core.contracts import TelemetryEvent
from impactline.ingest.adapters import Translation
from impactline.ingest.adapters import alertmanager as am
from impactline.ingest.adapters import changes as ch
from impactline.ingest.adapters import cloudevents_http as ce
from impactline.ingest.adapters import feedback as fb
from impactline.ingest.adapters import native as nt
from impactline.ingest.adapters import pagerduty as pd
from impactline.ingest.adapters import webhook as wh
from impactline.ingest.body import NDJSON, parse_json
from impactline.ingest.intake import Format, Intake, Published
from impactline.runtime.problems import Problem


def _seed_ids(payload: Any, intake: Intake) -> Any:
    """Items without an id get one derived from the Idempotency-Key and their position."""
    if intake.id_seed is None:
        return payload
    items = payload if isinstance(payload, list) else [payload]
    for index, item in enumerate(items):
        if isinstance(item, dict) and "id" not in item:
            item["id"] = intake.seeded_id(index)
    return payload


def _count(payload: Any, intake: Intake) -> Any:
    """The payload, once its item count (a batch's length) is within the request's limit."""
    if isinstance(payload, list):
        intake.check_items(len(payload))
    return payload


def native(intake: Intake) -> Translation[TelemetryEvent]:
    if intake.media_type == NDJSON:
        intake.check_items(sum(1 for line in intake.body.split(b"\n") if line.strip()))
        return nt.parse_ndjson(intake.body, received_at=intake.received_at)
    payload = _count(parse_json(intake.body), intake)
    if payload == []:
        raise Problem(422, "Empty batch", "the batch holds no events", kind="validation")
    return nt.translate(_seed_ids(payload, intake), received_at=intake.received_at)


def alertmanager(intake: Intake) -> Translation[TelemetryEvent]:
    payload = parse_json(intake.body)
    if isinstance(payload, dict):
        _count(payload.get("alerts"), intake)
    out = am.translate(payload)
    if out.rejected:
        envelope = {k: v for k, v in payload.items() if k != "alerts"}
        for index, alert in list(out.rejected_items.items()):
            out.rejected_items[index] = {**envelope, "alerts": [alert]}
    return out


def cloudevents(intake: Intake, mappings: ce.Mappings | None = None) -> Translation[Any]:
    ce.content_mode(intake.headers)  # a wrong Content-Type is named before the body is parsed
    return ce.translate(
        _count(parse_json(intake.body), intake),
        intake.headers,
        received_at=intake.received_at,
        mappings=mappings,
    )


def cloudevents_format(mappings: ce.Mappings) -> Format:
    """CloudEvents whose foreign types the given webhook mappings translate."""
    return Format(
        "cloudevents", lambda intake: cloudevents(intake, mappings), title="Invalid CloudEvent"
    )


def webhook_format(mapping: wh.WebhookMapping) -> Format:
    """`POST /v1/webhooks/{name}`: the body through one webhook mapping."""

    def translate(intake: Intake) -> Translation[Any]:
        payload = _count(parse_json(intake.body), intake)
        return wh.translate(payload, mapping, received_at=intake.received_at)

    return Format(
        f"webhooks/{mapping.name}",
        translate,
        title=f"Invalid {mapping.name} webhook",
        input=mapping.name,
    )


def changes(intake: Intake) -> Translation[Any]:
    return ch.translate(_count(parse_json(intake.body), intake), received_at=intake.received_at)


def feedback(intake: Intake) -> Translation[Any]:
    payload = _seed_ids(_count(parse_json(intake.body), intake), intake)
    return fb.translate(payload, received_at=intake.received_at)


class PagerDutyFormat:
    """PagerDuty Events API v2: remembers which CI each dedup key named, for bare resolves."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._cis: OrderedDict[str, str] = OrderedDict()

    def translate(self, intake: Intake) -> Translation[TelemetryEvent]:
        out = pd.translate(
            parse_json(intake.body), received_at=intake.received_at, ci_for_dedup_key=self._cis.get
        )
        for event in out.accepted:
            self._cis.pop(out.dedup_key, None)
            self._cis[out.dedup_key] = event.ci_id
            while len(self._cis) > self._capacity:
                self._cis.popitem(last=False)
        return out

    @staticmethod
    def answer(translation: Translation[Any], _: Published) -> tuple[int, dict[str, Any]]:
        assert isinstance(translation, pd.PagerDutyTranslation)
        return 202, pd.success_response(translation.dedup_key)

    def format(self) -> Format:
        return Format(
            "pagerduty",
            self.translate,
            title="Invalid event",
            # PagerDuty clients treat 400 as "do not retry" and read `message`.
            invalid_status=400,
            answer=self.answer,
            problem_extras={"message": "Event object is invalid"},
        )


NATIVE = Format("native", native)
ALERTMANAGER = Format("alertmanager", alertmanager, title="Invalid Alertmanager notification")
CLOUDEVENTS = Format("cloudevents", cloudevents, title="Invalid CloudEvent")
CHANGES = Format("changes", changes, title="Invalid change record")
FEEDBACK = Format("feedback", feedback, title="Invalid feedback")

# Replay of HTTP dead letters: format name -> how the stored item is translated again.
REPLAYABLE: dict[str, Format] = {
    f.name: f for f in (NATIVE, ALERTMANAGER, CLOUDEVENTS, CHANGES, FEEDBACK)
}
