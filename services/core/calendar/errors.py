"""Calendar validation errors that name the source, the path inside it and what was expected."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class CalendarError(ValueError):
    """A business calendar that cannot be loaded; `problems` lists every finding."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            text = f"{source}: {self.problems[0]}"
        else:
            lines = "\n".join(f"  {problem}" for problem in self.problems)
            text = f"{source}: {len(self.problems)} problems:\n{lines}"
        super().__init__(text)

    @classmethod
    def single(cls, source: str, path: str, message: str) -> CalendarError:
        return cls(source, [Problem(path, message)])


def dotted_path(location: Iterable[str | int]) -> str:
    """`("periods", 0, "weight")` -> `periods[0].weight`."""
    text = ""
    for part in location:
        if part == "[key]":
            # pydantic's marker for an invalid mapping key rather than its value.
            text += " (key)"
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def from_validation_error(source: str, error: ValidationError, prefix: str = "") -> CalendarError:
    problems = []
    for detail in error.errors(include_url=False):
        # Union members and validator functions add location parts no user wrote; drop them.
        location = [
            part
            for part in detail["loc"]
            if part == "[key]"
            or not (isinstance(part, str) and ("[" in part or part.startswith("function-")))
        ]
        path = dotted_path([prefix, *location] if prefix else location)
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "unknown key; check the spelling against the documented calendar format"
        elif detail["type"] == "missing":
            message = "required key is missing"
        elif detail["type"] == "string_pattern_mismatch":
            message = (
                "expected a lower-case name of letters, digits and dashes such as "
                f"month-end-close (got {detail.get('input')!r})"
            )
        elif "input" in detail and detail["type"] not in {"value_error", "assertion_error"}:
            message = f"{message} (got {detail['input']!r})"
        problems.append(Problem(path, message))
    return CalendarError(source, problems)
