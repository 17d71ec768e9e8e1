"""Change records from pipelines: one ChangeEvent per CI, ids stable across webhook retries."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from impactline.core.contracts import ChangeKind
from impactline.ingest.adapters import AdapterError, changes

FIXTURES = Path(__file__).parents[1] / "fixtures" / "adapters"
RECEIVED = datetime(2026, 11, 30, 8, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_a_deployment_to_two_cis_is_one_change_event_per_ci() -> None:
    result = changes.translate(load("changes_deployment.json"), received_at=RECEIVED)
    assert [e.ci_id for e in result.accepted] == ["app-gl-01", "app-gl-02"]
    first = result.accepted[0]
    assert first.kind == ChangeKind.DEPLOYMENT
    assert first.reference == "https://ci.example.com/finance/gl-ledger/pipelines/8812"
    assert (first.author, first.source) == ("jane.doe", "gitlab-ci")
    assert first.time == datetime(2026, 11, 30, 7, 45, tzinfo=UTC)
    assert len({e.id for e in result.accepted}) == 2


def test_a_retried_webhook_yields_the_same_ids() -> None:
    first = changes.translate(load("changes_deployment.json"), received_at=RECEIVED)
    again = changes.translate(
        load("changes_deployment.json"), received_at=RECEIVED + timedelta(hours=1)
    )
    assert [e.id for e in first.accepted] == [e.id for e in again.accepted]


def test_a_batch_keeps_good_records_and_names_the_bad_fields() -> None:
    result = changes.translate(load("changes_batch.json"), received_at=RECEIVED)
    [change] = result.accepted
    assert (change.id, change.kind, change.source) == (
        "CHG0041877",
        ChangeKind.CONFIGURATION,
        "itsm",
    )
    assert [(i, e.pointer) for i, e in result.rejected] == [(1, "/1/kind"), (2, "/2/comitter")]
    assert "deployment, configuration, infrastructure, other" in result.rejected[0][1].message


def test_a_record_without_time_happened_when_received() -> None:
    [event] = changes.translate({"ci_id": "db-gl-01"}, received_at=RECEIVED).accepted
    assert (event.time, event.kind, event.source) == (RECEIVED, ChangeKind.DEPLOYMENT, "pipeline")


def test_a_given_id_is_kept_for_one_ci_and_derived_per_ci_for_several() -> None:
    [one] = changes.translate({"id": "CHG1", "ci_id": "db-gl-01"}, received_at=RECEIVED).accepted
    several = changes.translate({"id": "CHG1", "ci_ids": ["a", "b"]}, received_at=RECEIVED).accepted
    assert one.id == "CHG1"
    assert len({e.id for e in several}) == 2 and "CHG1" not in {e.id for e in several}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"summary": "no target"}, "/ci_id"),
        ({"ci_id": "a", "ci_ids": ["b"]}, "/ci_ids"),
        ({"ci_ids": []}, "/ci_ids"),
        ({"ci_ids": ["a", 7]}, "/ci_ids/1"),
        ({"ci_ids": ["a", "b c"]}, "/ci_ids/1"),
        ({"ci_id": "a", "time": "2026-11-30 07:45"}, "/time"),
        ({"ci_id": "a", "reference": "r", "pipeline_url": "p"}, "/pipeline_url"),
        ({"ci_id": "a", "pipeline_url": "u" * 501}, "/pipeline_url"),
        ({"ci_id": "a", "author": ["jane"]}, "/author"),
        (["not a record"], "/0"),
    ],
)
def test_an_invalid_record_names_the_field(body: Any, pointer: str) -> None:
    if isinstance(body, list):
        [(_, error)] = changes.translate(body, received_at=RECEIVED).rejected
    else:
        with pytest.raises(AdapterError) as caught:
            changes.translate(body, received_at=RECEIVED)
        error = caught.value
    assert error.pointer == pointer


def test_an_empty_batch_is_an_error() -> None:
    with pytest.raises(AdapterError, match="no change records"):
        changes.translate([], received_at=RECEIVED)
