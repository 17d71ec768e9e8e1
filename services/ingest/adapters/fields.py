"""Reading fields out of parsed JSON, with errors that point at the field that is wrong."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from impactline.core.contracts import derived_id
from impactline.ingest.adapters.errors import AdapterError, join

M = TypeVar("M", bound=BaseModel)
_MISSING = object()


def require_object(value: Any, ptr: str, what: str = "a JSON object") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AdapterError(ptr, f"expected {what}, got {json_type(value)}")
    return value


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages a client can act on."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def text(
    obj: Mapping[str, Any],
    key: str,
    base: str,
    *,
    required: bool = False,
    max_length: int | None = None,
) -> str | None:
    """`obj[key]` as a string; absent or null is None unless `required`."""
    value = obj.get(key, _MISSING)
    ptr = join(base, key)
    if value is _MISSING or value is None:
        if required:
            raise AdapterError(ptr, "required field is missing")
        return None
    if not isinstance(value, str):
        raise AdapterError(ptr, f"expected a string, got {json_type(value)}")
    if required and not value.strip():
        raise AdapterError(ptr, "must not be empty")
    if max_length is not None and len(value) > max_length:
        raise AdapterError(ptr, f"must be at most {max_length} characters, got {len(value)}")
    return value


def required_text(obj: Mapping[str, Any], key: str, base: str, **kw: Any) -> str:
    value = text(obj, key, base, required=True, **kw)
    assert value is not None  # required=True never returns None
    return value


def choice(obj: Mapping[str, Any], key: str, base: str, allowed: Iterable[str]) -> str:
    """A required string that must be one of `allowed`; the error lists them."""
    options = list(allowed)
    value = required_text(obj, key, base)
    if value not in options:
        raise AdapterError(join(base, key), f"must be one of {', '.join(options)}; got {value!r}")
    return value


def timestamp(value: Any, ptr: str) -> datetime:
    """An RFC 3339 timestamp with a zone offset (nanosecond fractions are cut to microseconds)."""
    if not isinstance(value, str):
        raise AdapterError(ptr, f"expected an RFC 3339 timestamp string, got {json_type(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise AdapterError(
            ptr, f"not an RFC 3339 timestamp: {value[:60]!r}; e.g. 2026-11-30T10:00:00Z"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise AdapterError(
            ptr, f"timestamp must carry a zone offset, e.g. 2026-11-30T10:00:00Z; got {value!r}"
        )
    return parsed


def optional_timestamp(obj: Mapping[str, Any], key: str, base: str) -> datetime | None:
    value = obj.get(key)
    return None if value is None else timestamp(value, join(base, key))


def string_map(value: Any, ptr: str) -> dict[str, str]:
    """A JSON object whose values are all strings (labels, annotations)."""
    obj = require_object(value, ptr)
    for key, item in obj.items():
        if not isinstance(item, str):
            raise AdapterError(join(ptr, key), f"expected a string, got {json_type(item)}")
    return obj


def stable_id(*parts: str) -> str:
    """A deterministic event id: the same input always yields it, so a resend is a duplicate."""
    # uuid5 hashes UTF-8; a lone surrogate from a lenient JSON parser would not encode.
    safe = (p.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for p in parts)
    return derived_id(*safe)


def build(
    model: type[M],
    data: dict[str, Any],
    *,
    base: str = "",
    sources: Mapping[str, str] | None = None,
) -> M:
    """Validate `data` as `model`; each failing contract field is reported at its source pointer.

    `sources` maps a contract field name to the pointer of the input field it came from, so an
    error about `ci_id` in an alert names `/alerts/0/labels/instance`, not `ci_id`. Fields not in
    `sources` are reported under `base` by their own name.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = sources or {}
        pairs = [(_locate(err["loc"], base, where), err["msg"]) for err in exc.errors()]
        (first_ptr, first_msg), *rest = pairs
        raise AdapterError(first_ptr, first_msg, also=rest) from None


def _locate(loc: tuple[Any, ...], base: str, sources: Mapping[str, str]) -> str:
    if not loc:
        return base
    head, *tail = loc
    start = sources.get(str(head), join(base, head))
    return join(start, *tail)
