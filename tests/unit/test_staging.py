"""Staged state: handlers read their own writes at once, the table sees them only at settle."""

from __future__ import annotations

from impactline.runtime.staging import StagedTable


async def test_writes_are_visible_to_handlers_and_reach_the_table_when_flushed() -> None:
    table: dict[str, object] = {"a": 1, "b": 2}
    staged = StagedTable(table)
    staged["a"] = 10
    staged["c"] = 3
    del staged["b"]
    assert (staged.get("a"), staged.get("b"), staged["c"]) == (10, None, 3)
    assert "b" not in staged and "c" in staged
    assert sorted(staged.keys()) == ["a", "c"]
    assert table == {"a": 1, "b": 2}, "nothing stored before the outputs are durable"

    frozen = staged.freeze()
    staged["a"] = 11  # the next input's write, while the settle waits for the broker
    assert staged.get("a") == 11 and staged.get("c") == 3
    await staged.flush(frozen)
    assert table == {"a": 10, "c": 3}
    assert staged.get("a") == 11, "the later write is still staged"
    await staged.flush(staged.freeze())
    assert table == {"a": 11, "c": 3}


async def test_a_key_written_again_while_frozen_keeps_the_newest_value_visible() -> None:
    table: dict[str, object] = {}
    staged = StagedTable(table)
    staged["k"] = "first"
    frozen = staged.freeze()
    del staged["k"]
    assert staged.get("k") is None and "k" not in list(staged)
    await staged.flush(frozen)
    assert table == {"k": "first"} and staged.get("k") is None
    await staged.flush(staged.freeze())
    assert table == {}
