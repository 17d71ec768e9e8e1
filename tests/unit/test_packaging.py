"""A wheel must contain every sub-package: the list in pyproject.toml is kept by hand."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_declared() -> None:
    declared = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(("impactline", *init.parent.relative_to(ROOT / "services").parts))
        for init in (ROOT / "services").rglob("__init__.py")
    }
    assert found - declared == set(), "add these to [tool.setuptools] packages"
    assert declared - found == set(), "these are declared but do not exist"
