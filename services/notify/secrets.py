"""Destination secrets, read from the environment or from files when notify starts, and kept out
of every log line and error message."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from impactline.core.delivery import RouteFile, SecretRef


class SecretsMissing(RuntimeError):
    """Secrets the route file refers to cannot be read; the message lists each one."""


class Secrets:
    """The resolved secrets of a route file, by (destination, field)."""

    def __init__(self, values: Mapping[tuple[str, str], str]) -> None:
        self._values = dict(values)

    @classmethod
    def resolve(cls, routes: RouteFile, environ: Mapping[str, str] | None = None) -> Secrets:
        environ = os.environ if environ is None else environ
        values: dict[tuple[str, str], str] = {}
        missing: list[str] = []
        for (destination, field), ref in sorted(routes.secrets().items()):
            value = _read(ref, environ)
            if value is None:
                missing.append(f"{destination}.{field}: {_absent(ref)}")
            else:
                values[(destination, field)] = value
        if missing:
            raise SecretsMissing(
                "the route file refers to secrets that cannot be read:\n  " + "\n  ".join(missing)
            )
        return cls(values)

    def get(self, destination: str, field: str) -> str | None:
        return self._values.get((destination, field))

    def require(self, destination: str, field: str) -> str:
        value = self._values.get((destination, field))
        if value is None:
            raise KeyError(f"{destination}.{field} has no secret")
        return value

    def redact(self, text: str) -> str:
        """`text` with every secret value replaced, for errors that may quote a URL or body."""
        for value in sorted(self._values.values(), key=len, reverse=True):
            if len(value) >= 4:
                text = text.replace(value, "***")
        return text

    def __repr__(self) -> str:
        return f"Secrets({len(self._values)} values)"


def _read(ref: SecretRef, environ: Mapping[str, str]) -> str | None:
    if ref.env is not None:
        value = environ.get(ref.env)
        return value if value else None
    assert ref.file is not None
    try:
        value = Path(ref.file).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return value or None


def _absent(ref: SecretRef) -> str:
    if ref.env is not None:
        return f"environment variable {ref.env} is not set"
    return f"file {ref.file} is missing, unreadable or empty"
