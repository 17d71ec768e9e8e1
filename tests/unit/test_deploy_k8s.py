"""The Kubernetes manifests: rendered overlays checked against the Kubernetes schemas and
against what an operator relies on (probes, limits, disruption budgets, topics, secrets)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from test_deploy_kustomize import K8S, OVERLAYS, ROOT, rendered_overlay
from test_deploy_topics import KAFKA_TOPIC_SCHEMA

from impactline.core import topics
from impactline.ingest.config import IngestSettings
from impactline.runtime.settings import Settings

Doc = dict[str, Any]
# The oldest Kubernetes release the manifests are written for, and the newest schemas shipped.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic"}
HTTP_SERVICES = {"impactline-ingest": 8081, "impactline-api": 8080, "impactline-notify": 8082}
WORKERS = ("impactline-correlate", "impactline-impact")
IMAGE_UID = 10001  # USER in the Dockerfile


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def docs(overlay: str, tmp_path_factory: pytest.TempPathFactory) -> list[Doc]:
    return rendered_overlay(overlay, tmp_path_factory.mktemp(overlay))


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(doc: Doc) -> Doc:
    return doc["spec"]["template"]["spec"]


def config(docs: list[Doc]) -> dict[str, str]:
    (cm,) = [d for d in docs if d["metadata"]["name"].startswith("impactline-config-")]
    return cm["data"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_resource_is_valid_for_kubernetes(docs: list[Doc], version: str) -> None:
    for doc in docs:
        if doc["kind"] in STRIMZI_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")


def test_the_validator_rejects_a_misspelt_field(docs: list[Doc]) -> None:
    deployment = dict(of_kind(docs, "Deployment")["impactline-ingest"])
    deployment["spec"] = {**deployment["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_the_five_processes_run_as_deployments_of_one_image(docs: list[Doc]) -> None:
    deployments = of_kind(docs, "Deployment")
    assert {*HTTP_SERVICES, *WORKERS} <= set(deployments)
    images = {
        c["image"]
        for name in (*HTTP_SERVICES, *WORKERS)
        for c in pod_spec(deployments[name])["containers"]
    }
    assert len(images) == 1


def test_http_services_probe_readiness_and_liveness_on_their_port(docs: list[Doc]) -> None:
    deployments = of_kind(docs, "Deployment")
    services = of_kind(docs, "Service")
    for name, port in HTTP_SERVICES.items():
        (container,) = pod_spec(deployments[name])["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["args"][-2:] == ["--port", str(port)] and ports["http"] == port
        assert "0.0.0.0" in container["args"], f"{name} must listen beyond the pod's loopback"
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert services[name]["spec"]["ports"][0]["port"] == port


def test_workers_probe_with_a_command_the_image_has(docs: list[Doc]) -> None:
    for name in WORKERS:
        (container,) = pod_spec(of_kind(docs, "Deployment")[name])["containers"]
        for probe in ("readinessProbe", "livenessProbe"):
            command = container[probe]["exec"]["command"]
            assert command[:2] == ["python", "-c"], f"{name} {probe}"
            compile(command[2], f"{name} {probe}", "exec")


def worker_probe(docs: list[Doc]) -> list[str]:
    (container,) = pod_spec(of_kind(docs, "Deployment")[WORKERS[0]])["containers"]
    return container["readinessProbe"]["exec"]["command"]


def test_worker_probe_passes_while_a_broker_listens_and_fails_when_none_does(
    docs: list[Doc],
) -> None:
    command = [sys.executable, *worker_probe(docs)[1:]]
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        up = f"127.0.0.1:{closed.getsockname()[1]}, 127.0.0.1:{listening.getsockname()[1]}"
        down = f"127.0.0.1:{closed.getsockname()[1]}"
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": up}
        assert subprocess.run(command, env=env, timeout=30).returncode == 0
        env["KAFKA_BOOTSTRAP_SERVERS"] = down
        failed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert failed.returncode != 0
    assert "no Kafka bootstrap server accepts connections" in failed.stderr


def test_every_container_has_requests_within_limits(docs: list[Doc]) -> None:
    def quantity(value: str | int) -> float:
        units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
        text = str(value)
        for unit, factor in units.items():
            if text.endswith(unit):
                return float(text[: -len(unit)]) * factor
        return float(text)

    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for container in pod_spec(doc)["containers"]:
            resources = container["resources"]
            for kind in ("cpu", "memory"):
                request, limit = resources["requests"][kind], resources["limits"][kind]
                assert quantity(request) <= quantity(limit), (doc["metadata"]["name"], kind)


def test_every_deployment_has_a_disruption_budget_that_selects_it(docs: list[Doc]) -> None:
    budgets = list(of_kind(docs, "PodDisruptionBudget").values())
    for name, deployment in of_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selecting = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(selecting) == 1, name
        assert selecting[0]["spec"].get("maxUnavailable") == 1, name


def test_workers_autoscale_up_to_one_per_partition(docs: list[Doc]) -> None:
    partitions = int(config(docs)["IMPACTLINE_PARTITIONS"])
    autoscalers = of_kind(docs, "HorizontalPodAutoscaler")
    assert set(autoscalers) == set(WORKERS)
    for name, hpa in autoscalers.items():
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions
        # The autoscaler owns the count; a replicas field would fight it on every apply.
        assert "replicas" not in of_kind(docs, "Deployment")[name]["spec"]


def test_topics_match_the_partitions_the_workers_are_configured_for(
    docs: list[Doc], overlay: str
) -> None:
    partitions = int(config(docs)["IMPACTLINE_PARTITIONS"])
    by_topic = {d["spec"]["topicName"]: d for d in of_kind(docs, "KafkaTopic").values()}
    for topic in topics.REGISTRY:
        assert by_topic[topic.name]["spec"]["partitions"] == (topic.partitions or partitions)
    for doc in by_topic.values():
        jsonschema.validate(doc, KAFKA_TOPIC_SCHEMA)
        assert doc["spec"]["replicas"] == (1 if overlay == "dev" else 3)


def test_topics_belong_to_the_cluster_the_services_connect_to(docs: list[Doc]) -> None:
    bootstrap = config(docs)["KAFKA_BOOTSTRAP_SERVERS"]
    clusters = {
        d["metadata"]["labels"]["strimzi.io/cluster"] for d in of_kind(docs, "KafkaTopic").values()
    }
    assert len(clusters) == 1
    (cluster,) = clusters
    # Strimzi names the bootstrap Service `<cluster>-kafka-bootstrap`.
    assert bootstrap.split(":")[0].split(".")[0] == f"{cluster}-kafka-bootstrap"
    kafkas = of_kind(docs, "Kafka")
    if kafkas:  # the dev overlay brings its own cluster
        assert set(kafkas) == {cluster}
        ports = {listener["port"] for listener in kafkas[cluster]["spec"]["kafka"]["listeners"]}
        assert int(bootstrap.rsplit(":", 1)[1]) in ports
        pools = of_kind(docs, "KafkaNodePool").values()
        assert {p["metadata"]["labels"]["strimzi.io/cluster"] for p in pools} == {cluster}
        assert sum(p["spec"]["replicas"] for p in pools) >= max(
            d["spec"]["replicas"] for d in of_kind(docs, "KafkaTopic").values()
        )


def test_settings_are_known_variables_and_paths_are_mounted(docs: list[Doc]) -> None:
    known = {
        (f.validation_alias if isinstance(f.validation_alias, str) else name.upper())
        for name, f in Settings.model_fields.items()
    } | {f"IMPACTLINE_INGEST_{name.upper()}" for name in IngestSettings.model_fields}
    values = config(docs)
    otel = {k for k in values if k.startswith("OTEL_")}
    assert set(values) - otel <= known, "unknown settings in the impactline-config ConfigMap"
    for name in WORKERS:
        (container,) = pod_spec(of_kind(docs, "Deployment")[name])["containers"]
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        for variable in ("IMPACTLINE_CATALOG", "IMPACTLINE_CALENDARS"):
            assert values[variable] in mounts, (name, variable)
        for variable in ("IMPACTLINE_SCORING", "IMPACTLINE_ROUTING"):
            assert str(Path(values[variable]).parent) in mounts, (name, variable)
    (ingest,) = pod_spec(of_kind(docs, "Deployment")["impactline-ingest"])["containers"]
    assert values["IMPACTLINE_INGEST_WEBHOOKS"] in {m["mountPath"] for m in ingest["volumeMounts"]}
    (notify,) = pod_spec(of_kind(docs, "Deployment")["impactline-notify"])["containers"]
    mounts = {m["mountPath"] for m in notify["volumeMounts"]}
    assert str(Path(values["IMPACTLINE_NOTIFY_ROUTES"]).parent) in mounts
    assert values["IMPACTLINE_CATALOG"] in mounts  # the escalation paths


def test_referenced_configmaps_and_secrets_exist(docs: list[Doc]) -> None:
    present = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        spec = pod_spec(doc)
        refs = [("ConfigMap", v["configMap"]["name"]) for v in spec["volumes"] if "configMap" in v]
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    refs.append(("ConfigMap", source["configMapRef"]["name"]))
                if "secretRef" in source:
                    refs.append(("Secret", source["secretRef"]["name"]))
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.append(("Secret", ref["name"]))
        for ref in refs:
            assert ref in present, (doc["metadata"]["name"], ref)


def test_pods_run_as_the_image_user_without_privileges(docs: list[Doc]) -> None:
    for name in (*HTTP_SERVICES, *WORKERS):
        spec = pod_spec(of_kind(docs, "Deployment")[name])
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == IMAGE_UID
        (container,) = spec["containers"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        # Faust writes its table directory under the working directory.
        assert "/var/lib/impactline" in {m["mountPath"] for m in container["volumeMounts"]}


def test_no_secret_values_are_committed() -> None:
    committed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", str(K8S)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not [f for f in committed if f.endswith("secrets.env")], "secrets.env must be ignored"
    for path in committed:
        if not path.endswith(".yaml"):
            continue
        for doc in yaml.safe_load_all((ROOT / path).read_text()):
            assert not (doc and doc.get("kind") == "Secret"), f"{path} holds a Secret"
    for overlay in OVERLAYS:
        example = K8S / "overlays" / overlay / "secrets.env.example"
        pairs = dict(
            line.split("=", 1)
            for line in example.read_text().splitlines()
            if line and not line.startswith("#")
        )
        assert set(pairs) == {"PGPASSWORD", "IMPACTLINE_API_KEYS"}
        assert pairs["PGPASSWORD"].startswith("replace-with") and pairs["IMPACTLINE_API_KEYS"] == ""
        notify = K8S / "overlays" / overlay / "notify-secrets.env.example"
        values = [
            line.split("=", 1)[1]
            for line in notify.read_text().splitlines()
            if line and not line.startswith("#")
        ]
        assert values and set(values) == {""}, "notify-secrets.env.example holds only names"


def test_database_url_carries_no_password(docs: list[Doc]) -> None:
    url = config(docs)["DATABASE_URL"]
    userinfo = url.split("://", 1)[1].split("@", 1)[0]
    assert ":" not in userinfo, "the password belongs in the Secret (PGPASSWORD)"


@pytest.mark.parametrize("folder", ["catalog", "calendars", "impact", "webhooks", "notify"])
def test_demo_configuration_in_the_base_equals_the_repository_demo(folder: str) -> None:
    source = ROOT / "deploy" / folder
    copy = K8S / "base" / "demo" / folder
    names = sorted(p.name for p in source.iterdir() if p.suffix in (".yaml", ".ics"))
    assert sorted(p.name for p in copy.iterdir()) == names
    for name in names:
        assert (copy / name).read_bytes() == (source / name).read_bytes(), (
            f"deploy/k8s/base/demo/{folder}/{name} differs from deploy/{folder}/{name}; "
            f"copy it: cp deploy/{folder}/{name} deploy/k8s/base/demo/{folder}/"
        )
