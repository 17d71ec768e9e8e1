"""The Dockerfile and its build context, checked without a Docker engine.

The builder stage only copies files and runs `pip install .`, so building the package from the
files that would reach it (the context after .dockerignore, then the COPY instructions) shows
what the image would contain.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for pair in instructions():
        if pair[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(pair)
    return found


def ignore_patterns() -> list[re.Pattern[str]]:
    """.dockerignore lines as regexes over context-relative paths (`*` stays within a folder,
    `**` crosses folders); a pattern that matches a folder excludes what it holds."""
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        regex = ""
        for part in re.split(r"(\*\*/|\*\*|\*|\?)", line):
            regex += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                part, re.escape(part)
            )
        patterns.append(re.compile(regex + "(/.*)?"))
    return patterns


def excluded(relative: str) -> bool:
    return any(p.fullmatch(relative) for p in ignore_patterns())


def test_final_stage_is_slim_python_as_a_non_root_user_running_impactline() -> None:
    final = stages()[-1]
    args = dict(instructions())
    assert final[0] == ("FROM", "${PYTHON_IMAGE}")
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE.read_text())
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert json.loads(args["ENTRYPOINT"]) == ["impactline"]
    assert any(i == "COPY" and a.startswith("--from=builder") for i, a in final)


def test_builder_installs_the_project_with_pip_like_a_local_install() -> None:
    builder = stages()[0]
    runs = " ".join(a for i, a in builder if i == "RUN")
    assert "pip install ." in runs


def test_context_keeps_local_state_out_and_what_the_build_needs_in() -> None:
    for local in (".venv/bin/python", ".cache/kafka", ".git/HEAD", "tests/unit/test_x.py"):
        assert excluded(local), local
    assert excluded("services/core/__pycache__/topics.cpython-311.pyc")
    assert excluded("impactline-correlate-data/v1")
    for needed in ("pyproject.toml", "README.md", "services/cli/main.py", "Dockerfile"):
        assert not excluded(needed), needed


def copied_sources() -> list[str]:
    sources = []
    for instruction, args in stages()[0]:
        if instruction == "COPY":
            sources.extend(args.split()[:-1])
    return sources


def test_every_copied_source_exists_and_reaches_the_build() -> None:
    for source in copied_sources():
        assert (ROOT / source).exists(), source
        assert not excluded(source), source


@pytest.mark.timeout(240)
def test_package_built_from_the_image_context_has_the_code_and_data(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for source in copied_sources():
        origin = ROOT / source
        for path in [origin] if origin.is_file() else origin.rglob("*"):
            relative = path.relative_to(ROOT).as_posix()
            if path.is_file() and not excluded(relative):
                (src / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, src / relative)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("impactline-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {
        p.parent.relative_to(ROOT / "services").as_posix()
        for p in (ROOT / "services").rglob("__init__.py")
    }
    for package in packages:
        prefix = "impactline" if package == "." else f"impactline/{package}"
        assert f"{prefix}/__init__.py" in names, f"{prefix} is missing from the image"
    migrations = {p.name for p in (ROOT / "services" / "runtime" / "migrations").glob("*.sql")}
    assert {n.rsplit("/", 1)[-1] for n in names if "/migrations/" in n} >= migrations
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "impactline = impactline.cli.main:app" in text
