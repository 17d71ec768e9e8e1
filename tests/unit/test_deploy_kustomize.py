"""A small kustomize renderer for the overlays under deploy/k8s, so tests need no kubectl.

It implements only what those kustomizations use: `resources` (files and folders), `namespace`,
`images`, `configMapGenerator` / `secretGenerator` (files, literals, envs; behaviours create,
merge, replace; `disableNameSuffixHash`), and `patches` as strategic-merge documents (lists of
named items merged by name) or JSON 6902 operations with a `target`. Anything else in a
kustomization is an error here rather than silently ignored. Where kubectl is installed, a
test checks that this renderer and kustomize agree on every overlay (up to the value of the
generated names' hash suffix).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "images",
    "configMapGenerator",
    "secretGenerator",
    "patches",
}
_HASH = "__kustomize_hash__"
Doc = dict[str, Any]


class KustomizeError(Exception):
    pass


def render(directory: Path) -> list[Doc]:
    """Every resource of the kustomization in `directory`, generated names resolved."""
    docs = _layer(directory)
    renames: dict[tuple[str, str], str] = {}
    for doc in docs:
        if doc.pop(_HASH, False):
            old = doc["metadata"]["name"]
            doc["metadata"]["name"] = f"{old}-{_suffix(doc)}"
            renames[(doc["kind"], old)] = doc["metadata"]["name"]
    for doc in docs:
        _rename_references(doc, renames)
    return docs


def _layer(directory: Path) -> list[Doc]:
    path = directory / "kustomization.yaml"
    if not path.exists():
        raise KustomizeError(f"{directory} has no kustomization.yaml")
    spec = yaml.safe_load(path.read_text())
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{path}: fields this renderer does not implement: {unknown}")
    docs: list[Doc] = []
    for entry in spec.get("resources", []):
        target = directory / entry
        if target.is_dir():
            docs.extend(_layer(target))
        else:
            docs.extend(d for d in yaml.safe_load_all(target.read_text()) if d)
    for gen in spec.get("configMapGenerator", []):
        _generate(docs, gen, "ConfigMap", directory)
    for gen in spec.get("secretGenerator", []):
        _generate(docs, gen, "Secret", directory)
    for patch in spec.get("patches", []):
        _patch(docs, patch, directory)
    for image in spec.get("images", []):
        _set_image(docs, image)
    if "namespace" in spec:
        for doc in docs:
            doc["metadata"]["namespace"] = spec["namespace"]
    return docs


def _generate(docs: list[Doc], gen: Doc, kind: str, directory: Path) -> None:
    data: dict[str, str] = {}
    for name in gen.get("files", []):
        file = directory / name
        data[file.name] = file.read_bytes().decode()
    for literal in gen.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    for name in gen.get("envs", []):
        file = directory / name
        if not file.exists():
            raise KustomizeError(f"{file} does not exist (copy the .example next to it)")
        for line in file.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                data[key.strip()] = value
    behavior = gen.get("behavior", "create")
    existing = _find(docs, kind, gen["name"])
    if behavior == "create":
        if existing is not None:
            raise KustomizeError(f"{kind} {gen['name']} is generated twice")
        doc: Doc = {"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]}}
        if kind == "Secret":
            doc["type"] = gen.get("type", "Opaque")
        docs.append(doc)
    elif existing is None:
        raise KustomizeError(f"{behavior} of {kind} {gen['name']}, which no base generates")
    else:
        doc = existing
        if behavior == "replace":
            doc.pop("data", None)
    encoded = (
        {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        if kind == "Secret"
        else data
    )
    doc["data"] = {**doc.get("data", {}), **encoded}
    disabled = gen.get("options", {}).get("disableNameSuffixHash", False)
    doc[_HASH] = doc.get(_HASH, True) and not disabled


def _find(docs: list[Doc], kind: str, name: str) -> Doc | None:
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    return None


def _patch(docs: list[Doc], patch: Doc, directory: Path) -> None:
    text = (directory / patch["path"]).read_text() if "path" in patch else patch["patch"]
    parsed = list(yaml.safe_load_all(text))
    if "target" in patch:
        targets = [d for d in docs if _selected(d, patch["target"])]
        if not targets:
            raise KustomizeError(f"patch target {patch['target']} selects nothing")
        for doc in targets:
            if isinstance(parsed[0], list):
                _json6902(doc, parsed[0])
            else:
                _merge(doc, parsed[0])
        return
    for part in parsed:
        doc = _find(docs, part["kind"], part["metadata"]["name"])
        if doc is None:
            raise KustomizeError(f"patch for missing {part['kind']} {part['metadata']['name']}")
        _merge(doc, part)


def _selected(doc: Doc, target: Doc) -> bool:
    group, _, version = doc["apiVersion"].rpartition("/")
    actual = {"group": group, "version": version, "kind": doc["kind"]}
    actual["name"] = doc["metadata"]["name"]
    return all(actual.get(k) == v for k, v in target.items())


def _merge(into: Doc, patch: Doc) -> None:
    for key, value in patch.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, list) and _named(value) and _named(into.get(key)):
            for item in value:
                match = next((i for i in into[key] if i["name"] == item["name"]), None)
                if match is None:
                    into[key].append(copy.deepcopy(item))
                else:
                    _merge(match, item)
        else:
            into[key] = copy.deepcopy(value)


def _named(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


def _json6902(doc: Doc, operations: list[Doc]) -> None:
    for op in operations:
        *parents, last = [
            p.replace("~1", "/").replace("~0", "~") for p in op["path"][1:].split("/")
        ]
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if op["op"] in ("add", "replace"):
            if op["op"] == "replace" and last not in node:
                raise KustomizeError(f"replace of missing {op['path']} in {doc['kind']}")
            node[last] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del node[last]
        else:
            raise KustomizeError(f"JSON patch operation {op['op']} is not implemented")


def _containers(doc: Doc) -> list[Doc]:
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec", spec.get("jobTemplate", {}))
    return [*pod.get("containers", []), *pod.get("initContainers", [])]


def _set_image(docs: list[Doc], image: Doc) -> None:
    for doc in docs:
        for container in _containers(doc):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                name = image.get("newName", name)
                tag = image.get("newTag", tag)
                container["image"] = f"{name}:{tag}" if tag else name


def _suffix(doc: Doc) -> str:
    """A content hash, so a changed ConfigMap or Secret gets a new name and rolls its pods.

    kustomize does the same with its own encoding; the values differ, so the comparison with
    kustomize below ignores the suffix's value.
    """
    encoded = {"kind": doc["kind"], "name": doc["metadata"]["name"], "data": doc["data"]}
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _rename_references(doc: Doc, renames: dict[tuple[str, str], str]) -> None:
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec")
    if pod is None:
        return
    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            ref = volume["configMap"]
            ref["name"] = renames.get(("ConfigMap", ref["name"]), ref["name"])
        if "secret" in volume:
            ref = volume["secret"]
            ref["secretName"] = renames.get(("Secret", ref["secretName"]), ref["secretName"])
    for container in _containers(doc):
        for source in container.get("envFrom", []):
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if key in source:
                    source[key]["name"] = renames.get(
                        (kind, source[key]["name"]), source[key]["name"]
                    )
        for env in container.get("env", []):
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = env.get("valueFrom", {}).get(key)
                if ref is not None:
                    ref["name"] = renames.get((kind, ref["name"]), ref["name"])


def rendered_overlay(name: str, tmp_path: Path) -> list[Doc]:
    """Render an overlay from a copy of deploy/k8s with its secrets.env files made from the
    examples, as a user does before the first apply."""
    tree = tmp_path / "k8s"
    if not tree.exists():
        shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("*secrets.env"))
    overlay = tree / "overlays" / name
    for example in overlay.glob("*secrets.env.example"):
        (overlay / example.name.removesuffix(".example")).write_text(example.read_text())
    return render(overlay)


def by_key(docs: list[Doc]) -> dict[tuple[str, str], Doc]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


# The renderer's own behaviour, on small kustomizations of the same shapes the overlays use.


def _write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)


BASE_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: app
          envFrom: [{configMapRef: {name: settings}}]
          resources: {limits: {memory: 1Gi}}
"""


def test_overlay_merges_patches_and_renames_generated_configmaps(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: [web.yaml]\n"
            "configMapGenerator: [{name: settings, literals: [A=1]}]\n",
            "base/web.yaml": BASE_DEPLOYMENT,
            "prod/kustomization.yaml": "resources: [../base]\nnamespace: prod\n"
            "images: [{name: app, newName: reg/app, newTag: '2'}]\n"
            "configMapGenerator: [{name: settings, behavior: merge, literals: [B=2]}]\n"
            "patches: [{path: more.yaml}]\n",
            "prod/more.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
            "spec:\n  replicas: 5\n  template:\n    spec:\n      containers:\n"
            "        - {name: web, resources: {limits: {cpu: '1'}}}\n",
        },
    )
    docs = by_key(render(tmp_path / "prod"))
    web = docs[("Deployment", "web")]
    (config_key,) = [k for k in docs if k[0] == "ConfigMap"]
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert web["spec"]["replicas"] == 5
    assert container["resources"]["limits"] == {"memory": "1Gi", "cpu": "1"}
    assert container["image"] == "reg/app:2"
    assert docs[config_key]["data"] == {"A": "1", "B": "2"}
    assert config_key[1].startswith("settings-") and len(config_key[1]) == len("settings-") + 10
    assert container["envFrom"][0]["configMapRef"]["name"] == config_key[1]
    assert {d["metadata"]["namespace"] for d in docs.values()} == {"prod"}


def test_json_patch_with_a_target_changes_every_selected_resource(tmp_path: Path) -> None:
    topic = "apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata: {{name: {n}}}\n"
    _write(
        tmp_path,
        {
            "kustomization.yaml": "resources: [t.yaml]\npatches:\n"
            "  - target: {group: kafka.strimzi.io, kind: KafkaTopic}\n"
            "    patch: '[{op: replace, path: /spec/replicas, value: 1}]'\n",
            "t.yaml": "---\n".join(topic.format(n=n) + "spec: {replicas: 3}\n" for n in ("a", "b")),
        },
    )
    assert [d["spec"]["replicas"] for d in render(tmp_path)] == [1, 1]


def test_a_field_the_renderer_does_not_implement_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, {"kustomization.yaml": "resources: []\nnamePrefix: x-\n"})
    with pytest.raises(KustomizeError, match="namePrefix"):
        render(tmp_path)


def test_a_missing_secrets_env_says_to_copy_the_example(tmp_path: Path) -> None:
    _write(tmp_path, {"kustomization.yaml": "secretGenerator: [{name: s, envs: [secrets.env]}]\n"})
    with pytest.raises(KustomizeError, match=r"copy the \.example"):
        render(tmp_path)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_renderer_agrees_with_kustomize(overlay: str, tmp_path: Path) -> None:
    ours = by_key(rendered_overlay(overlay, tmp_path))
    built = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    theirs = by_key([d for d in yaml.safe_load_all(built.stdout) if d])
    assert _unhashed(ours) == _unhashed(theirs)


def _unhashed(docs: dict[tuple[str, str], Doc]) -> dict[str, Doc]:
    """Documents by kind/name with generated names' suffixes (10 characters) blanked out."""
    generated = "|".join(
        (
            "impactline-config",
            "impactline-calendars",
            "impactline-impact-rules",
            "impactline-webhooks",
            "impactline-secrets",
            "impactline-notify-routes",
            "impactline-notify-secrets",
        )
    )
    pattern = re.compile(rf"\b({generated})-[a-z0-9]{{10}}\b")
    text = json.dumps({f"{k[0]}/{k[1]}": d for k, d in docs.items()}, sort_keys=True)
    return json.loads(pattern.sub(r"\1-HASH", text))
