"""Reading calendar files: the one module of this package that touches the file system."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from impactline.core import yaml_limits
from impactline.core.calendar.business_calendar import BusinessCalendar
from impactline.core.calendar.errors import CalendarError

#: Overrides where calendars are looked up by name.
CALENDAR_DIR_ENV = "IMPACTLINE_CALENDARS"
_SUFFIXES = (".yaml", ".yml")


def default_calendar_directory() -> Path:
    """`$IMPACTLINE_CALENDARS`, else `deploy/calendars` under the working directory, else the
    one next to the source tree."""
    configured = os.environ.get(CALENDAR_DIR_ENV)
    if configured:
        return Path(configured)
    local = Path.cwd() / "deploy" / "calendars"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[3] / "deploy" / "calendars"


def resolve_calendar(reference: str | Path, directory: Path | None = None) -> Path:
    """A calendar file from a path, or from a name such as `uk-finance` in the calendar
    directory."""
    candidate = Path(reference)
    if candidate.is_file():
        return candidate
    folder = directory or default_calendar_directory()
    for suffix in _SUFFIXES:
        named = folder / f"{reference}{suffix}"
        if named.is_file():
            return named
    known = ", ".join(sorted(path.stem for path in _calendar_files(folder))) or "none"
    raise FileNotFoundError(
        f"no calendar file {str(reference)!r} and no calendar of that name in {folder} "
        f"(known: {known})"
    )


def load_calendar(path: str | Path) -> BusinessCalendar:
    """Load one YAML calendar; `ics.file` entries are read relative to the calendar file."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CalendarError.single(source, "", f"cannot read the file: {error.strerror}") from None
    try:
        yaml_limits.check_limits(text)
        mapping = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise CalendarError.single(source, where, f"not valid YAML: {problem}") from None
    if not isinstance(mapping, dict):
        raise CalendarError.single(source, "", "expected a YAML mapping at the top level")
    _inline_ics(mapping, path.parent, source)
    name = mapping.get("name") or path.stem
    return BusinessCalendar.from_document(str(name), mapping, source=source)


def load_calendars(directory: str | Path) -> dict[str, BusinessCalendar]:
    """Every calendar file of a directory, by calendar name."""
    calendars = {}
    for path in _calendar_files(Path(directory)):
        calendar = load_calendar(path)
        calendars[calendar.name] = calendar
    return calendars


def _calendar_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.suffix in _SUFFIXES)


def _inline_ics(mapping: dict[str, Any], base: Path, source: str) -> None:
    periods = mapping.get("periods")
    if not isinstance(periods, list):
        return
    for index, period in enumerate(periods):
        ics = period.get("ics") if isinstance(period, dict) else None
        if not isinstance(ics, dict) or "file" not in ics or "content" in ics:
            continue
        target = base / str(ics["file"])
        try:
            ics["content"] = target.read_text(encoding="utf-8")
        except OSError as error:
            raise CalendarError.single(
                source,
                f"periods[{index}].ics.file",
                f"cannot read {target}: {error.strerror} (paths are relative to the calendar file)",
            ) from None
