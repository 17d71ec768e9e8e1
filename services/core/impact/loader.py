"""Reading the impact configuration files: the one module of this package that touches files.

`deploy/impact/routing.yaml` holds the routing rules and `deploy/impact/scoring.yaml` the scoring
configuration; a missing file means the defaults, a file that exists must be valid.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from impactline.core import yaml_limits
from impactline.core.impact.routing import RoutingError, RoutingRules
from impactline.core.scoring import ScoringConfig, ScoringConfigError

_Error = TypeVar("_Error", RoutingError, ScoringConfigError)


def load_routing_rules(path: str | Path) -> RoutingRules:
    """Routing rules from a YAML file; raises `RoutingError` naming the file and the path."""
    source = str(path)
    mapping = _read(Path(path), lambda problem: RoutingError(source, [problem]))
    return RoutingRules.from_mapping(mapping, source)


def load_scoring_config(path: str | Path) -> ScoringConfig:
    """Scoring configuration from a YAML file; raises `ScoringConfigError` naming the file."""
    source = str(path)
    mapping = _read(Path(path), lambda problem: ScoringConfigError(source, [problem]))
    return ScoringConfig.from_mapping(mapping, source)


def _read(path: Path, error: Callable[[str], _Error]) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as failure:
        raise error(f"cannot read the file: {failure.strerror}") from None
    try:
        yaml_limits.check_limits(text)
        mapping = yaml.safe_load(text)
    except yaml.YAMLError as failure:
        mark = getattr(failure, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(failure, "problem", None) or str(failure)
        raise error(f"not valid YAML{where}: {problem}") from None
    if mapping is not None and not isinstance(mapping, dict):
        raise error(f"expected a mapping at the top level, got {type(mapping).__name__}")
    return mapping
