"""docs/reliability.md shows what the fault suite measured, generated from its results."""

from __future__ import annotations

import json

import pytest

from tests.faults import report
from tests.faults.conftest import Scale


def sample() -> dict[str, object]:
    return {
        "machine": "x86_64, 2 cores, Python 3.11.7",
        "measured_at": "2026-11-26T22:00:00+00:00",
        "runs": {
            "broker stopped 30s": {
                "fault": "broker stopped 30s",
                "sent": 10_000,
                "accepted": 10_000,
                "state_changes": 7_500,
                "repeats": 2_500,
                "lost": 0,
                "duplicated": 0,
                "unexpected": 0,
                "incidents": 990,
                "duplicated_incidents": 0,
                "retried_batches": 12,
                "refusals": {"503": 40},
                "seconds": 200.4,
            },
            "poison": {"fault": "poison", "messages": 75, "topics": 14, "dead_letters": 110},
            "slow consumer": {
                "fault": "slow consumer",
                "events": 50_000,
                "posted_seconds": 12.0,
                "peak_lag": 41_000,
                "max_rss_mib": 180.5,
                "rss_bound_mib": 400,
                "samples": 90,
            },
        },
    }


def test_the_table_shows_each_fault_with_its_figures() -> None:
    table = report.render(sample())
    assert "| broker stopped 30s | 10,000 | 10,000 | 7,500 | 2,500 | 0 | 0 | 0 |" in table
    assert "503 x40" in table
    assert "peaked at 41,000 messages" in table and "180 MiB (bound 400 MiB" in table
    assert "75 undecodable or oversized messages on 14 topics; 110 dead letters" in table


def test_the_table_replaces_only_the_generated_section() -> None:
    document = f"intro\n{report.BEGIN}\nold\n{report.END}\noutro\n"
    assert report.rewrite(document, "new") == f"intro\n{report.BEGIN}\nnew\n{report.END}\noutro\n"


def test_the_document_matches_the_committed_measurements(scale: Scale) -> None:
    if scale.name == "full":
        pytest.skip("make test-faults is measuring anew; it rewrites the table after this run")
    source = report.RESULTS / "full.json"
    if not source.exists():
        pytest.fail(f"{source} is missing: run `make test-faults`")
    wanted = report.rewrite(
        report.DOCUMENT.read_text(), report.render(json.loads(source.read_text()))
    )
    assert wanted == report.DOCUMENT.read_text(), "run python -m tests.faults.report"


def test_the_hostile_input_table_lists_each_case_in_the_order_of_the_findings() -> None:
    results = sample()
    runs = results["runs"]
    assert isinstance(runs, dict)
    for case in ("schemathesis", "control characters"):
        runs[f"hostile: {case}"] = {
            "fault": f"hostile: {case}",
            "input": f"{case} input",
            "answer": f"{case} answer",
            "kept": f"{case} kept",
        }
    table = report.render(results)
    assert "| input | answer | what kept working |" in table
    first = table.index("| control characters input | control characters answer |")
    assert first < table.index("| schemathesis input | schemathesis answer | schemathesis kept |")
