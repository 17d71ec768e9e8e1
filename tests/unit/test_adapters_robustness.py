"""No input crashes an adapter: anything that is not translatable is an AdapterError.

Each adapter gets arbitrary JSON and, to reach deep fields, its realistic fixture with random
parts replaced by arbitrary JSON or dropped. Whatever is accepted must also survive publishing:
it serialises and reads back as the same event.
"""

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impactline.ingest.adapters import (
    AdapterError,
    Translation,
    alertmanager,
    changes,
    cloudevents_http,
    feedback,
    native,
    pagerduty,
)

RECEIVED = datetime(2026, 11, 30, 10, tzinfo=UTC)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "adapters"
RUNS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "down", "firing", "1.0", "2026-11-30T10:00:00Z", "0001-01-01T00:00:00Z"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location inside a JSON document, as a tuple of keys and indices."""
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    else:
        return []
    out: list[tuple[Any, ...]] = []
    for key, child in children:
        out += [(*prefix, key), *_paths(child, (*prefix, key))]
    return out


def _child(node: Any, key: Any) -> Any:
    if isinstance(node, dict) and key in node:
        return node[key]
    if isinstance(node, list) and isinstance(key, int) and key < len(node):
        return node[key]
    return None


@st.composite
def _mutate(draw: st.DrawFn, value: Any) -> Any:
    doc = copy.deepcopy(value)
    paths = _paths(value)
    for _ in range(draw(st.integers(1, 3))):
        *parents, last = draw(st.sampled_from(paths))
        node = doc
        for key in parents:
            node = _child(node, key)
        if isinstance(node, dict) and draw(st.booleans()):
            node.pop(last, None)
        elif _child(node, last) is not None or isinstance(node, dict):
            node[last] = draw(json_values)
    return doc


def mutated(value: Any) -> st.SearchStrategy[Any]:
    """`value` with one to three of its parts replaced by arbitrary JSON or dropped."""
    return _mutate(value)


def survives(translate: Callable[[], Translation[Any]]) -> None:
    try:
        result = translate()
    except AdapterError as err:
        assert err.fields(), "an error must name at least one location"
        return
    for event in result.accepted:
        assert type(event).model_validate_json(event.model_dump_json()) == event
    for _, err in result.rejected:
        assert err.fields()
    result.dead_letters("test", time=RECEIVED)


@RUNS
@given(
    st.one_of(
        json_values, mutated(load("native_batch.json")), mutated(load("native_batch.json")[0])
    )
)
def test_native_json(body: Any) -> None:
    survives(lambda: native.translate(body, received_at=RECEIVED))


@RUNS
@given(
    st.binary(max_size=200)
    | st.lists(json_values, max_size=3).map(
        lambda items: b"\n".join(json.dumps(i).encode() for i in items)
    )
)
def test_native_ndjson(data: bytes) -> None:
    survives(lambda: native.parse_ndjson(data, received_at=RECEIVED))


@RUNS
@given(
    st.one_of(
        json_values,
        mutated(load("alertmanager_firing.json")),
        mutated(load("alertmanager_unlabelled.json")),
    )
)
def test_alertmanager(body: Any) -> None:
    survives(lambda: alertmanager.translate(body))


ce_headers = st.one_of(
    st.dictionaries(
        st.sampled_from(
            [
                "content-type",
                "ce-specversion",
                "ce-id",
                "ce-source",
                "ce-type",
                "ce-time",
                "ce-subject",
            ]
        ),
        st.text(max_size=20),
    ),
    mutated(load("cloudevents_binary.json")["headers"]).filter(
        lambda h: isinstance(h, dict) and all(isinstance(v, str) for v in h.values())
    ),
    st.sampled_from(
        [
            {"content-type": "application/cloudevents+json"},
            {"content-type": "application/cloudevents-batch+json"},
        ]
    ),
)


@RUNS
@given(
    st.one_of(
        json_values,
        mutated(load("cloudevents_structured.json")),
        mutated(load("cloudevents_batch.json")),
        mutated(load("cloudevents_binary.json")["body"]),
    ),
    ce_headers,
)
def test_cloudevents(body: Any, headers: dict[str, str]) -> None:
    survives(lambda: cloudevents_http.translate(body, headers, received_at=RECEIVED))


@RUNS
@given(
    st.one_of(
        json_values,
        mutated(load("pagerduty_trigger.json")),
        mutated(load("pagerduty_resolve.json")),
        mutated(load("pagerduty_acknowledge.json")),
    )
)
def test_pagerduty(body: Any) -> None:
    survives(
        lambda: pagerduty.translate(
            body, ci_for_dedup_key=lambda key: key or None, received_at=RECEIVED
        )
    )


@RUNS
@given(
    st.one_of(
        json_values, mutated(load("changes_deployment.json")), mutated(load("changes_batch.json"))
    )
)
def test_changes(body: Any) -> None:
    survives(lambda: changes.translate(body, received_at=RECEIVED))


@RUNS
@given(st.one_of(json_values, mutated(load("feedback_batch.json"))))
def test_feedback(body: Any) -> None:
    survives(lambda: feedback.translate(body, received_at=RECEIVED))
