"""docker-compose.yml, checked without a Docker engine: the Compose specification's JSON Schema
(as vendored by check-jsonschema) and what a user of `docker compose up` relies on."""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from impactline.cli.deploy import write_local_secrets
from impactline.cli.main import app
from impactline.ingest.config import IngestSettings
from impactline.runtime.embedded.kafka import pom_version
from impactline.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
# Published on the host, loopback only: ingest, API, Kafka for tools on the host.
DOCUMENTED_PORTS = {"127.0.0.1:8081:8081", "127.0.0.1:8080:8080", "127.0.0.1:9094:9094"}
# Its image has no shell or client to run a check with (see the comment in the file).
NO_HEALTHCHECK = {"otel-collector"}

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> Doc:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def schema() -> Doc:
    vendored = importlib.resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    return json.loads((vendored / "compose-spec.json").read_text())


def validator(schema: Doc) -> jsonschema.Validator:
    # The schema names draft 7 as "https://json-schema.org/draft-07/schema" (no "#"), which
    # jsonschema does not look up by that spelling.
    assert "draft-07" in schema["$schema"]
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def impactline_services(compose: Doc) -> dict[str, Doc]:
    return {n: s for n, s in compose["services"].items() if s.get("image") == "impactline:local"}


def one_shot(service: Doc) -> bool:
    return service.get("restart") == "no"


def test_file_follows_the_compose_specification(compose: Doc, schema: Doc) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(schema).iter_errors(compose)
    ]
    assert not errors, "\n".join(errors)


def test_the_schema_check_catches_a_misspelt_key(compose: Doc, schema: Doc) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["ingest"]["healtcheck"] = broken["services"]["ingest"].pop("healthcheck")
    assert list(validator(schema).iter_errors(broken))


def test_every_long_running_service_has_a_healthcheck(compose: Doc) -> None:
    for name, service in compose["services"].items():
        if one_shot(service) or name in NO_HEALTHCHECK:
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_http_services_are_healthy_when_ready(compose: Doc) -> None:
    for name, port in (("ingest", 8081), ("api", 8080)):
        service = compose["services"][name]
        assert service["command"][-2:] == ["--port", str(port)]
        assert f"http://127.0.0.1:{port}/readyz" in service["healthcheck"]["test"][-1]


def test_dependencies_wait_for_health_or_completion(compose: Doc) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            condition = rule["condition"]
            if condition == "service_healthy":
                assert services[dependency].get("healthcheck", {}).get("test"), (name, dependency)
            else:
                assert condition == "service_completed_successfully", (name, dependency)
                assert one_shot(services[dependency]), (name, dependency)


def test_only_the_documented_ports_are_published_on_loopback(compose: Doc) -> None:
    published = {p for s in compose["services"].values() for p in s.get("ports", [])}
    assert published == DOCUMENTED_PORTS


def test_no_secret_is_written_in_the_file(compose: Doc) -> None:
    secretive = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY", re.IGNORECASE)
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if secretive.search(key):
                assert key.endswith("_FILE") and str(value).startswith("/run/"), (name, key)
        url = (service.get("environment") or {}).get("DATABASE_URL", "")
        assert ":" not in url.split("://", 1)[-1].split("@", 1)[0], f"{name}: password in URL"
    assert "IMPACTLINE_API_KEYS" not in COMPOSE.read_text()


def test_settings_are_known_variables_and_config_is_mounted_read_only(compose: Doc) -> None:
    known = {
        (f.validation_alias if isinstance(f.validation_alias, str) else name.upper())
        for name, f in Settings.model_fields.items()
    } | {f"IMPACTLINE_INGEST_{name.upper()}" for name in IngestSettings.model_fields}
    for name, service in impactline_services(compose).items():
        env = service.get("environment") or {}
        ours = {k for k in env if k.startswith(("IMPACTLINE_", "KAFKA_", "DATABASE_"))}
        assert ours <= known, (name, ours - known)
        for volume in service["volumes"]:
            source, _, mode = [*volume.split(":"), ""][:3]
            # Only the init step writes: it creates the secrets the others read.
            assert mode == "ro" or name == "secrets-init", (name, volume)
            if source.startswith("./"):
                assert (ROOT / source).is_dir(), (name, source)
        mounted = {v.split(":")[1] for v in service["volumes"]}
        for variable in ("IMPACTLINE_CATALOG", "IMPACTLINE_CALENDARS"):
            if variable in env:
                assert env[variable] in mounted, (name, variable)


def test_kafka_is_the_version_the_embedded_broker_pins(compose: Doc) -> None:
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{pom_version()}"


def test_commands_are_ones_the_cli_accepts(compose: Doc) -> None:
    for name, service in impactline_services(compose).items():
        # --help is processed after the other options are recognised, so a wrong option or
        # sub-command still fails here; nothing is started.
        result = CliRunner().invoke(app, [*service["command"], "--help"])
        assert result.exit_code == 0, (name, result.output)


def test_worker_healthcheck_passes_only_while_the_broker_listens(compose: Doc) -> None:
    code = compose["services"]["correlate"]["healthcheck"]["test"][-1]
    assert (
        compose["services"]["impact"]["healthcheck"]
        == compose["services"]["correlate"]["healthcheck"]
    )
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))
        for port, ok in ((listening.getsockname()[1], True), (closed.getsockname()[1], False)):
            env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}
            run = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, timeout=30
            )
            assert (run.returncode == 0) is ok, run.stderr


def test_secrets_init_uses_the_uids_of_the_images(compose: Doc) -> None:
    command = compose["services"]["secrets-init"]["command"]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    assert options == {"--database-uid": "999", "--service-uid": "10001"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001:10001$", dockerfile, re.MULTILINE)
    assert compose["services"]["postgres"]["image"].split(":")[0] == "postgres"  # uid 999


def test_local_secrets_are_private_and_kept_across_restarts(tmp_path: Path) -> None:
    created = write_local_secrets(tmp_path / "s")
    assert {p.name for p in created} == {"db-password", "pgpass"}
    password = (tmp_path / "s" / "db-password").read_text().strip()
    assert len(password) >= 24
    for path in created:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / "s" / "pgpass").read_text() == f"*:*:*:*:{password}\n"
    assert write_local_secrets(tmp_path / "s") == []
    assert (tmp_path / "s" / "db-password").read_text().strip() == password


def test_asyncpg_reads_the_password_from_the_pgpass_file(tmp_path: Path) -> None:
    from asyncpg.connect_utils import _parse_connect_dsn_and_args

    write_local_secrets(tmp_path)
    password = (tmp_path / "db-password").read_text().strip()
    url = impactline_services(yaml.safe_load(COMPOSE.read_text()))["api"]["environment"][
        "DATABASE_URL"
    ]
    _, params = _parse_connect_dsn_and_args(
        dsn=url,
        host=None,
        port=None,
        user=None,
        password=None,
        passfile=str(tmp_path / "pgpass"),
        database=None,
        ssl=None,
        direct_tls=None,
        server_settings=None,
        target_session_attrs=None,
        krbsrvname=None,
        gsslib=None,
        service=None,
        servicefile=None,
    )
    assert params.password == password
