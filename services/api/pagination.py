"""Cursor pagination over lists sorted by id.

The cursor names the last id of the previous page, so a page stays correct when the catalog
changes between two requests: nothing is skipped or repeated that was there on both.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from impactline.runtime.problems import Problem

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


_MARK = "after:"  # lets a cursor that was never issued be told apart from a valid one


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode((_MARK + last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded.encode(), altchars=b"-_", validate=True).decode()
        if not text.startswith(_MARK):
            raise ValueError(cursor)
        return text.removeprefix(_MARK)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Problem(
            422,
            "Invalid cursor",
            "the cursor is not one this API issued; start again without `cursor` "
            "and follow the `next` links",
            kind="validation",
            errors=[{"pointer": "#/query/cursor", "field": "cursor", "detail": "invalid cursor"}],
        ) from None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def page_after(ids: Sequence[str], items: Sequence[T], cursor: str | None, limit: int) -> Page[T]:
    """The `limit` items after the cursor; `ids` are the items' ids, sorted ascending."""
    start = bisect_right(ids, decode_cursor(cursor)) if cursor else 0
    end = min(start + limit, len(items))
    more = end < len(items)
    return Page(list(items[start:end]), encode_cursor(ids[end - 1]) if more else None)
