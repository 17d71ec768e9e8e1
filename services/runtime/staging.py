"""Writes held back until the outputs they account for are durable.

A stream worker handles a run of inputs, sends their outputs without waiting, then settles
once: writes the staged ledger rows, waits for the broker's acknowledgement of every output,
and only then stores the new states and lets the input offsets be committed. A state restored
after a crash therefore never includes an input whose outputs were lost with the process (the
replay would skip it, see `impactline.runtime.replay`), and each round trip is paid once per run
of inputs instead of once per input.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, Protocol

_DELETED = object()


class Staged(Protocol):
    """A sink whose writes wait for the next settle."""

    def freeze(self) -> Any:
        """Take the writes staged so far (no await: the settle's cut is consistent)."""

    async def flush(self, frozen: Any) -> None:
        """Make the writes taken by `freeze` durable."""


class StagedTable:
    """A Faust table seen through the writes of the inputs not yet settled.

    Handlers read and write it like the table; the writes reach the table, and so its
    changelog, when the settle that took them has its outputs acknowledged.
    """

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self._pending: dict[str, Any] = {}
        self._frozen: dict[str, Any] = {}  # taken by a settle that is waiting for the broker

    def get(self, key: str, default: Any = None) -> Any:
        value = self._pending.get(key, _DELETED)
        if value is _DELETED and key not in self._pending:
            value = self._frozen.get(key, _DELETED)
            if value is _DELETED and key not in self._frozen:
                return self.table.get(key, default)
        return default if value is _DELETED else value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _DELETED)
        if value is _DELETED:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._pending[key] = value

    def __delitem__(self, key: str) -> None:
        self._pending[key] = _DELETED

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _DELETED) is not _DELETED

    def keys(self) -> list[str]:
        layered = {**self._frozen, **self._pending}
        stored = [k for k in self.table if k not in layered]
        return stored + [k for k, v in layered.items() if v is not _DELETED]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def freeze(self) -> dict[str, Any]:
        frozen, self._pending = self._pending, {}
        self._frozen = {**self._frozen, **frozen}
        return frozen

    async def flush(self, frozen: dict[str, Any]) -> None:
        for key, value in frozen.items():
            if value is _DELETED:
                self.table.pop(key, None)
            else:
                self.table[key] = value
            if self._frozen.get(key, _DELETED) is value:
                del self._frozen[key]
