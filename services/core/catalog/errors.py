"""Errors raised while reading a catalog or querying its dependency graph."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Loc = tuple[str | int, ...]


def format_path(loc: Loc) -> str:
    """Render a location the way a reader finds it: `services[3].dependencies[1].to`."""
    out: list[str] = []
    for part in loc:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part.isidentifier():
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{part!r}]")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class CatalogError:
    """One broken rule: which file, where inside it, what was expected and what was found.

    `line` is filled in only when the error could be traced back to a YAML source line.
    """

    file: str
    loc: Loc
    message: str
    line: int | None = None

    @property
    def path(self) -> str:
        return format_path(self.loc)

    def __str__(self) -> str:
        where = f"{self.file}:{self.path}" if self.loc else self.file
        suffix = f" (line {self.line})" if self.line is not None else ""
        return f"{where}: {self.message}{suffix}"


class CatalogInvalid(Exception):
    """The catalog broke one or more rules; `errors` holds every one of them, not just the first."""

    def __init__(self, errors: Iterable[CatalogError]) -> None:
        self.errors: list[CatalogError] = list(errors)
        super().__init__(self._summary())

    def _summary(self) -> str:
        count = len(self.errors)
        head = f"catalog is invalid: {count} error{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  {error}" for error in self.errors)])

    def __str__(self) -> str:
        return self._summary()


class CatalogUnreadable(CatalogInvalid):
    """A catalog file could not be read or is not well-formed YAML; its content was not checked."""


class UnknownNodeError(KeyError):
    """An id that is not a node of the dependency graph (or not the kind of node the call needs)."""

    def __init__(self, node_id: str, expected: str, hint: str = "") -> None:
        self.node_id = node_id
        self.expected = expected
        detail = f"; {hint}" if hint else ""
        self.message = f"unknown {expected} {node_id!r}{detail}"
        super().__init__(node_id)

    def __str__(self) -> str:
        return self.message


def sort_errors(errors: Sequence[CatalogError]) -> list[CatalogError]:
    """Group errors by file and entry (`cis[3]`), in the order found within each entry."""

    def key(error: CatalogError) -> tuple[str, tuple[tuple[int, int | str], ...]]:
        entry = error.loc[:2]
        return error.file, tuple((0, p) if isinstance(p, int) else (1, p) for p in entry)

    return sorted(errors, key=key)
