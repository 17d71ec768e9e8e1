"""The pure rules behind the hostile-input fixes: ids and text a database can store, strict
timestamps, the window of event times, YAML limits, bounded idempotency memory, and what a
catalog version removes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from pydantic import ValidationError

from impactline.core import yaml_limits
from impactline.core.catalog import Catalog
from impactline.core.catalog.changes import changes_between
from impactline.core.contracts import FeedbackEvent, TelemetryEvent
from impactline.core.values import EventTimeWindow, event_time_window, unstorable_text
from impactline.ingest.idempotency import IdempotencyStore, StoredAnswer

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def errors_of(model: type, data: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}


@pytest.mark.parametrize("bad", ["x\u0000", "a\nb", "\u0085", "tab\there"])
def test_ids_refuse_every_control_character(bad: str) -> None:
    found = errors_of(TelemetryEvent, {"id": bad, "ci_id": "db-1", "state": "ok", "time": NOW})
    assert list(found) == ["id"] and "control characters" in found["id"]


def test_ids_refuse_lone_surrogates() -> None:
    found = errors_of(TelemetryEvent, {"id": "\ud800", "ci_id": "db-1", "state": "ok", "time": NOW})
    assert list(found) == ["id"]


def test_free_text_keeps_layout_but_not_other_controls() -> None:
    base = {"ci_id": "db-1", "state": "ok", "time": NOW}
    assert TelemetryEvent.model_validate({**base, "summary": "two\nlines\tand tab"})
    found = errors_of(TelemetryEvent, {**base, "summary": "nul\u0000", "attributes": {"k": "\x07"}})
    assert set(found) == {"summary", "attributes"} and "U+0000 at position 3" in found["summary"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("csat", True),
        ("csat", "3"),
        ("time", 1_700_000_000),
        ("time", "2026-11-30"),
        ("time", True),
    ],
)
def test_input_contracts_are_strict_about_types(field: str, value: object) -> None:
    data = {"service_id": "payroll", "time": "2026-11-30T10:00:00Z", "csat": 3, field: value}
    assert field in errors_of(FeedbackEvent, data)


def test_event_times_outside_the_window_are_refused_only_where_it_is_set() -> None:
    window = EventTimeWindow(NOW, timedelta(days=400), timedelta(hours=1))
    far = {"ci_id": "db-1", "state": "down", "time": "9999-12-31T23:59:59Z"}
    assert TelemetryEvent.model_validate(far)  # no window: topics are read as they are
    with event_time_window(window):
        assert "IMPACTLINE_EVENT_MAX_AHEAD" in errors_of(TelemetryEvent, far)["time"]
        old = {**far, "time": "2025-01-01T00:00:00Z"}
        assert "IMPACTLINE_EVENT_MAX_AGE" in errors_of(TelemetryEvent, old)["time"]
        assert TelemetryEvent.model_validate({**far, "time": NOW + timedelta(minutes=59)})


def test_yaml_beyond_depth_or_alias_expansion_is_refused_with_its_line() -> None:
    with pytest.raises(yaml_limits.YamlLimitExceeded, match="nested deeper than 64"):
        yaml_limits.load("[" * 100_000 + "]" * 100_000)
    lines = ["a: &a [1,2,3,4,5,6,7,8,9,10]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 10)}]")
    with pytest.raises(yaml_limits.YamlLimitExceeded) as caught:
        yaml_limits.load("\n".join(lines))
    # The fifth line, `e`, is the first whose aliases pass 100,000 nodes (0-based line 4).
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line == 4
    assert yaml_limits.load("a: &x [1, 2]\nb: *x") == {"a": [1, 2], "b": [1, 2]}
    with pytest.raises(yaml.YAMLError):
        yaml_limits.load("a: [")


def test_unstorable_text_is_found_with_its_pointer() -> None:
    assert unstorable_text({"services": [{"id": "ok", "name": "a\u0000"}]}) == "/services/0/name"
    assert unstorable_text({"a/b": {"\ud800": 1}}) == "/a~1b/\ud800"
    assert unstorable_text({"fine": ["text", 1, None]}) is None


def test_remembered_answers_are_bounded_by_bytes() -> None:
    store = IdempotencyStore(3600, 1000, max_bytes=100_000, clock=lambda: 0.0)
    answer = StoredAnswer(422, b"x" * 9_000, "application/problem+json")
    for n in range(50):
        store.begin(("key", str(n)), "print")
        store.finish(("key", str(n)), answer)
    assert store.stored_bytes <= 100_000 and len(store) < 50
    huge = StoredAnswer(422, b"x" * 20_000, "application/problem+json")
    store.begin(("key", "huge"), "print")
    store.finish(("key", "huge"), huge)  # over a tenth of the bound: not remembered
    assert store.begin(("key", "huge"), "print") is None


def test_changes_between_catalogs_say_what_a_version_removes() -> None:
    def catalog(*services: str) -> Catalog:
        return Catalog.from_documents(
            [
                (
                    "c.yaml",
                    {
                        "version": 1,
                        "services": [
                            {"id": s, "name": s, "owner": "o", "tier": 1, "users": 1, "domain": "d"}
                            for s in services
                        ],
                    },
                )
            ]
        )

    changes = changes_between(catalog("a", "b"), catalog("b", "c"))
    assert (changes.removed_services, changes.added_services) == (("a",), ("c",))
    assert not changes.removes_every_service
    assert changes_between(catalog("a"), catalog()).removes_every_service
    assert not changes_between(None, catalog()).removes_every_service
