"""Figures with the baseline each is compared to, and their rendering as text and Markdown."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    """One measured figure, the reference it is read against, and the goal it is held to."""

    key: str
    label: str
    value: float | None
    unit: str
    baseline: str = ""
    goal: str = ""
    met: bool | None = None
    note: str = ""

    def shown(self) -> str:
        return "n/a" if self.value is None else f"{fmt(self.value)} {self.unit}".rstrip()

    def verdict(self) -> str:
        if self.met is None:
            return ""
        return "met" if self.met else "MISSED"


@dataclass
class Section:
    """The figures of one benchmark, its raw details for the JSON file, and notes."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    def add(self, *figures: Figure) -> None:
        self.figures.extend(figures)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "skipped": self.skipped,
            "figures": {f.key: asdict(f) for f in self.figures},
            "details": self.details,
            "notes": self.notes,
        }


def fmt(value: float) -> str:
    """Three significant digits at most, thousands separated: 23,400 / 812 / 4.12 / 0.0351."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def ratio(part: float | None, whole: float | None) -> str:
    if not part or not whole:
        return "n/a"
    share = part / whole
    return f"{share * 100:.1f} %" if share < 10 else f"{share:.1f}x"


def print_section(section: Section) -> None:
    print(f"\n== {section.title}")
    if section.skipped:
        print(f"   skipped: {section.skipped}")
    for f in section.figures:
        line = f"   {f.label:<46} {f.shown():>18}"
        if f.baseline:
            line += f"  vs {f.baseline}"
        if f.goal:
            line += f"  goal {f.goal}: {f.verdict()}"
        print(line)
        if f.note:
            print(f"   {'':<46} {'':>18}  ({f.note})")
    for note in section.notes:
        print(f"   note: {note}")


def markdown(sections: list[Section], environment: dict[str, Any]) -> str:
    env = environment
    lines = [
        "# Benchmark results",
        "",
        f"Run {env['date']} with `{env['command']}` on {env['cores']} cores, "
        f"{env['memory_gib']} GiB memory ({env['machine']}, {env['system']}); Python "
        f"{env['python']}, Kafka {env['kafka']}, aiokafka {env['aiokafka']}, faust-streaming "
        f"{env['faust']}, PostgreSQL {env['postgres']}. Broker: {env['broker']}.",
        "",
        "Each figure is shown with the baseline it is read against; goals are targets, not tests.",
    ]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        if section.skipped:
            lines += [f"Skipped: {section.skipped}", ""]
            if not section.figures:
                continue
        lines += [
            "| figure | result | compared to | goal | verdict |",
            "|---|---|---|---|---|",
        ]
        for f in section.figures:
            label = f.label + (f" ({f.note})" if f.note else "")
            lines.append(
                f"| {_cell(label)} | {_cell(f.shown())} | {_cell(f.baseline)} | "
                f"{_cell(f.goal)} | {f.verdict()} |"
            )
        if section.notes:
            lines.append("")
            lines += [f"- {_cell(note)}" for note in section.notes]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
