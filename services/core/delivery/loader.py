"""Reading a route file: the one module of this package that touches files."""

from __future__ import annotations

from pathlib import Path

import yaml

from impactline.core.delivery.config import DeliveryConfigError, RouteFile


def load_route_file(path: str | Path) -> RouteFile:
    """A route file from YAML; raises `DeliveryConfigError` naming the file and the path."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as failure:
        raise DeliveryConfigError(source, [f"cannot read the file: {failure.strerror}"]) from None
    try:
        mapping = yaml.safe_load(text)
    except yaml.YAMLError as failure:
        mark = getattr(failure, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(failure, "problem", None) or str(failure)
        raise DeliveryConfigError(source, [f"not valid YAML{where}: {problem}"]) from None
    return RouteFile.from_mapping(mapping, source)
