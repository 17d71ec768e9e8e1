"""The one error every adapter raises: what is wrong, and where in the request it is."""

from __future__ import annotations

from collections.abc import Sequence


def escape(token: str | int) -> str:
    """One RFC 6901 reference token: `~` and `/` inside a key must not read as structure."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    """An RFC 6901 pointer from tokens; no tokens is `""`, the whole document."""
    return "".join("/" + escape(t) for t in tokens)


def join(base: str, *tokens: str | int) -> str:
    """`base` extended by `tokens`, e.g. join("/alerts/2", "labels") -> "/alerts/2/labels"."""
    return base + pointer(*tokens)


class AdapterError(ValueError):
    """The input cannot be translated.

    `pointer` is an RFC 6901 JSON pointer into the request body naming the offending field
    (`""` means the body as a whole). Input that arrives in an HTTP header instead of the body
    (CloudEvents binary mode) sets `header` to the header name and leaves `pointer` empty.
    `also` carries further (pointer, message) pairs found in the same input, so a client can fix
    every field in one round trip.
    """

    def __init__(
        self,
        pointer: str,
        message: str,
        *,
        header: str | None = None,
        also: Sequence[tuple[str, str]] = (),
    ) -> None:
        where = f"header {header}" if header else (pointer or "(body)")
        super().__init__(f"{where}: {message}")
        self.pointer = pointer
        self.message = message
        self.header = header
        self.also = tuple(also)

    def fields(self) -> list[dict[str, str]]:
        """Entries for the `errors` member of an RFC 9457 problem document."""
        if self.header:
            return [{"header": self.header, "field": self.header, "detail": self.message}]
        pairs = [(self.pointer, self.message), *self.also]
        return [{"pointer": p, "field": _field_name(p), "detail": m} for p, m in pairs]


def _field_name(ptr: str) -> str:
    """The last non-index token of a pointer, the way a person would name the field."""
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in ptr.split("/")[1:]]
    names = [t for t in tokens if not t.isdigit()]
    return names[-1] if names else "(body)"
