"""YAML parsing with limits: nesting depth and what aliases may expand to.

libyaml builds nested collections recursively: a document of 100,000 `[` overflows the C stack
and kills the process without a word. Aliases let 21 KB name ten million leaves (a "YAML bomb")
that every later step (validation, JSON, the database) expands. So every YAML document impactline
reads is first streamed as parser events, which needs no recursion, and refused when it nests
deeper than MAX_DEPTH or when its aliases would add more than MAX_ALIAS_NODES nodes; only then
is it loaded.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml import events

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 64
MAX_ALIAS_NODES = 100_000


class YamlLimitExceeded(yaml.MarkedYAMLError):
    """The document is well-formed but beyond a limit; `problem` says which."""


def check_limits(
    text: str | bytes, *, max_depth: int = MAX_DEPTH, max_alias_nodes: int = MAX_ALIAS_NODES
) -> None:
    """Raise YamlLimitExceeded (with the line) when `text` nests or expands too far; a
    malformed document raises the parser's own yaml.YAMLError."""
    # Per open collection: [nodes inside it so far, its anchor].
    stack: list[list[Any]] = []
    sizes: dict[str, int] = {}
    expanded = 0

    def add(count: int) -> None:
        if stack:
            stack[-1][0] += count

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, events.CollectionStartEvent):
            if len(stack) >= max_depth:
                raise YamlLimitExceeded(
                    problem=f"nested deeper than {max_depth} levels",
                    problem_mark=event.start_mark,
                )
            stack.append([1, event.anchor])
        elif isinstance(event, events.CollectionEndEvent):
            count, anchor = stack.pop()
            if anchor is not None:
                sizes[anchor] = count
            add(count)
        elif isinstance(event, events.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = 1
            add(1)
        elif isinstance(event, events.AliasEvent):
            count = sizes.get(event.anchor, 1)
            expanded += count
            if expanded > max_alias_nodes:
                raise YamlLimitExceeded(
                    problem=f"aliases expand to more than {max_alias_nodes} nodes",
                    problem_mark=event.start_mark,
                )
            add(count)
        elif isinstance(event, events.DocumentStartEvent):
            sizes.clear()  # anchors belong to one document


def load(text: str | bytes) -> Any:
    """One YAML document (safe types only), within the limits."""
    check_limits(text)
    return yaml.load(text, Loader=_Loader)


def load_all(text: str | bytes) -> list[Any]:
    """Every document of a YAML stream (safe types only), within the limits."""
    check_limits(text)
    return list(yaml.load_all(text, Loader=_Loader))
