"""`impactline deliveries check`: a route file is valid and every secret it names is readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from impactline.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "deploy" / "notify" / "routes.yaml"
runner = CliRunner()


def demo_secrets() -> dict[str, str]:
    names = [
        line.split("=", 1)[0]
        for line in (ROOT / "deploy/k8s/overlays/dev/notify-secrets.env.example")
        .read_text()
        .splitlines()
        if line and not line.startswith("#")
    ]
    return {name: f"value-of-{name.lower()}" for name in names}


def test_the_demo_route_file_passes_when_its_secrets_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in demo_secrets().items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["deliveries", "check", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert "8 destination(s), 6 route(s), 3 escalation target(s)" in result.output
    assert "every secret can be read" in result.output
    assert "value-of" not in result.output  # names, never values


def test_missing_secrets_are_each_named_and_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in demo_secrets().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SERVICENOW_PASSWORD")
    result = runner.invoke(app, ["deliveries", "check", str(DEMO)])
    assert result.exit_code == 1
    assert (
        "servicenow.password: environment variable SERVICENOW_PASSWORD is not set" in result.output
    )


def test_an_invalid_route_file_names_the_path_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("destinations:\n  pd: {kind: pagerduty, routing_key: R0UTE}\n")
    result = runner.invoke(app, ["deliveries", "check", str(path)])
    assert result.exit_code == 2
    assert (
        "destinations.pd.routing_key: secrets are never written in the route file" in result.output
    )


def test_replay_asks_what_to_replay() -> None:
    result = runner.invoke(app, ["deliveries", "replay"])
    assert result.exit_code == 2
    assert "--destination" in result.output
