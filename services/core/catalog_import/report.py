"""What an import did: what mapped, what was left out and why, and what a person must supply."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

_SHOWN = 20  # ids listed per line of the report; the rest are counted


@dataclass
class ImportReport:
    source: str
    mapped: Counter[str] = field(default_factory=Counter)
    """What became what, e.g. `System -> business service`: count."""
    skipped: dict[str, list[str]] = field(default_factory=dict)
    """Reason -> the entries left out for it."""
    warnings: dict[str, list[str]] = field(default_factory=dict)
    """What was guessed or dropped -> the entries concerned."""
    to_supply: dict[str, list[str]] = field(default_factory=dict)
    """What a person must still supply -> the entry ids concerned."""
    merged: dict[str, list[str]] = field(default_factory=dict)
    """How a re-import treated entries already in the file."""
    placeholders: dict[str, set[str]] = field(default_factory=dict)
    """Entry id -> fields holding a placeholder, which a re-import never writes over."""

    def placeholder(self, entry: str, *fields: str) -> None:
        self.placeholders.setdefault(entry, set()).update(fields)

    def skip(self, reason: str, entry: str) -> None:
        self.skipped.setdefault(reason, []).append(entry)

    def warn(self, what: str, entry: str) -> None:
        self.warnings.setdefault(what, []).append(entry)

    def supply(self, what: str, entry: str) -> None:
        self.to_supply.setdefault(what, []).append(entry)

    def note_merge(self, what: str, entry: str) -> None:
        self.merged.setdefault(what, []).append(entry)

    def summary(self) -> list[str]:
        """A few lines for the terminal."""
        lines = [f"{what}: {count}" for what, count in sorted(self.mapped.items())]
        lines += [f"left out ({reason}): {len(ids)}" for reason, ids in self.skipped.items()]
        lines += [f"warning ({what}): {len(ids)}" for what, ids in self.warnings.items()]
        lines += [f"to supply: {what}: {len(ids)} entries" for what, ids in self.to_supply.items()]
        lines += [f"re-import: {what}: {len(ids)}" for what, ids in self.merged.items()]
        return lines

    def markdown(self, output: str) -> str:
        """The report written beside the catalog file."""
        out = [
            f"# Import from {self.source} into `{output}`",
            "",
            "## Mapped",
            "",
            "| from | count |",
            "|---|---|",
            *(f"| {what} | {count} |" for what, count in sorted(self.mapped.items())),
        ]
        for title, section in (
            ("What a person must still supply", self.to_supply),
            ("Left out", self.skipped),
            ("Guessed or dropped", self.warnings),
            ("Merged with what the file already held", self.merged),
        ):
            if not section:
                continue
            out += ["", f"## {title}", ""]
            out += [f"- {what} ({len(ids)}): {_listed(ids)}" for what, ids in section.items()]
        return "\n".join(out) + "\n"


def _listed(ids: list[str]) -> str:
    shown = ", ".join(f"`{i}`" for i in ids[:_SHOWN])
    return shown + (f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else "")
