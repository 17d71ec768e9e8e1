"""SQL is parameterised throughout: values travel as $n arguments, never inside the SQL text.

The scan reads every module under services/ and follows what reaches the SQL argument of an
asyncpg call (execute, fetch, fetchrow, fetchval, executemany). Text built with f-strings is
allowed only from identifiers that cannot carry input: module constants (UPPER_CASE), literals,
loop variables over literal tuples, `$n` placeholder numbers from `len(...)`, and local names
built only from those. `%` and `.format()` on SQL text are refused outright.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
SQL_CALLS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "copy_records_to_table"}
# SQL text that comes from files shipped with the package, not from any input.
ALLOWED = {
    "db.py: sql": "the migration runner executes the package's own migration files",
    "db.py: statement": "CREATE and DROP DATABASE take an identifier, checked against a strict "
    "pattern by _database_statement",
}
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|WHERE|VALUES)\b")


def _is_constant_name(name: str) -> bool:
    return name.lstrip("_").isupper()


class FunctionScan:
    """Which local names of one function hold only SQL-safe text."""

    def __init__(self, function: ast.AST) -> None:
        self.assigned: dict[str, list[ast.expr]] = {}
        self.appended: dict[str, list[ast.expr]] = {}
        self.loop_names: set[str] = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AugAssign | ast.AnnAssign) and node.value is not None:
                self._bind(node.target, node.value)
            elif isinstance(node, ast.For | ast.comprehension) and _literal(node.iter):
                self.loop_names |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "extend")
                and isinstance(node.func.value, ast.Name)
            ):
                self.appended.setdefault(node.func.value.id, []).extend(node.args)
        self.safe: set[str] = set()
        changed = True
        while changed:  # a name is safe once everything assigned or appended to it is
            changed = False
            for name in set(self.assigned) | set(self.appended):
                if name in self.safe:
                    continue
                values = self.assigned.get(name, []) + self.appended.get(name, [])
                if all(self.is_safe(v) for v in values):
                    self.safe.add(name)
                    changed = True

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.assigned.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
            for t, v in zip(target.elts, value.elts, strict=False):
                self._bind(t, v)
        elif isinstance(target, ast.Tuple):
            for t in target.elts:
                self._bind(t, value)

    def is_safe(self, node: ast.expr) -> bool:
        match node:
            case ast.Constant():
                return True
            case ast.Name(id=name):
                return _is_constant_name(name) or name in self.loop_names or name in self.safe
            case ast.JoinedStr(values=values):
                return all(self.is_safe(v) for v in values)
            case ast.FormattedValue(value=value):
                return self.is_safe(value)
            case ast.BinOp(left=left, op=ast.Add() | ast.Sub(), right=right):
                return self.is_safe(left) and self.is_safe(right)
            case ast.BoolOp(values=values):
                return all(self.is_safe(v) for v in values)
            case ast.IfExp(body=body, orelse=orelse):
                return self.is_safe(body) and self.is_safe(orelse)
            case ast.List(elts=elts) | ast.Tuple(elts=elts):
                return all(self.is_safe(e) for e in elts)
            case ast.Call(func=ast.Name(id="len")):
                return True  # a $n placeholder number
            case ast.Call(func=ast.Attribute(value=ast.Constant(), attr="join"), args=[arg]):
                return self.is_safe(arg)
        return False


def _literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Tuple | ast.List) and all(
        isinstance(e, ast.Constant | ast.Tuple | ast.Name | ast.Attribute) for e in node.elts
    )


def _functions(tree: ast.Module) -> list[ast.AST]:
    return [
        tree,
        *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)),
    ]


def findings(path: Path) -> list[str]:
    """Every place in `path` where a value could reach SQL text."""
    tree = ast.parse(path.read_text(), str(path))
    out: list[str] = []
    for function in _functions(tree):
        scan = FunctionScan(function)
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in SQL_CALLS and node.args:
                sql = node.args[0]
                where = f"{path.name}: {ast.unparse(sql)[:80]}"
                if not scan.is_safe(sql) and where not in ALLOWED:
                    out.append(f"{where} (line {node.lineno})")
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "format"
                and isinstance(func.value, ast.Constant)
                and SQL_WORDS.search(str(func.value.value))
            ):
                out.append(f"{path.name}:{node.lineno}: str.format on SQL text")
        for node in ast.walk(function):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Mod)
                and isinstance(node.left, ast.Constant)
                and SQL_WORDS.search(str(node.left.value))
            ):
                out.append(f"{path.name}:{node.lineno}: % formatting of SQL text")
    return sorted(set(out))


def test_every_query_in_services_is_parameterised() -> None:
    modules = sorted(SERVICES.rglob("*.py"))
    assert len(modules) > 50, "the scan must see the whole code base"
    problems = [finding for module in modules for finding in findings(module)]
    assert problems == []


@pytest.mark.parametrize(
    "source",
    [
        "async def f(conn, name):\n    await conn.execute(f\"DELETE FROM t WHERE n = '{name}'\")\n",
        'async def f(conn, name):\n    sql = "SELECT * FROM t WHERE n = %s" % name\n'
        "    await conn.fetch(sql)\n",
        "async def f(conn, name):\n"
        '    await conn.fetch("SELECT * FROM t WHERE n = {}".format(name))\n',
        "async def f(conn, where):\n    clauses = [where]\n"
        '    await conn.fetch("SELECT 1 WHERE " + " AND ".join(clauses))\n',
    ],
)
def test_the_scan_catches_values_in_sql_text(source: str, tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text(source)
    assert findings(module)


def test_the_scan_allows_constants_and_placeholders(tmp_path: Path) -> None:
    module = tmp_path / "good.py"
    module.write_text(
        "COLUMNS = 'a, b'\n"
        "async def f(conn, a, limit):\n"
        "    clauses, args = [], []\n"
        "    for column, value, op in (('a', a, '='), ('b', None, '<')):\n"
        "        if value is not None:\n"
        "            args.append(value)\n"
        "            clauses.append(f'{column} {op} ${len(args)}')\n"
        "    where = ' AND '.join(clauses) or 'true'\n"
        "    args.append(limit)\n"
        "    return await conn.fetch(\n"
        "        f'SELECT {COLUMNS} FROM t WHERE {where} LIMIT ${len(args)}', *args\n"
        "    )\n"
    )
    assert findings(module) == []
