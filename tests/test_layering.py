"""The store seam holds: SQL and the SQLite driver stay under ``oneiro/store``, and the CLI reaches
the store only through the library.

Checked on the syntax tree (imports and string constants), not by grepping text, so a docstring
that mentions a table cannot fail it and an aliased import cannot slip past it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "oneiro"
STORE = SRC / "store"
CLI = SRC / "cli"

#: What a string constant that is SQL looks like: a statement verb with its clause keyword, or a
#: SQLite JSON function. Case-sensitive on the keywords, as the store writes them.
SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\b[\s\S]*\bINTO\b|\bUPDATE\b\s+\w+\s+\bSET\b|\bDELETE\s+FROM\b"
    r"|\bjson_extract\s*\(|\bCREATE\s+(TABLE|INDEX|TRIGGER)\b|\bPRAGMA\s+\w+"
    # a WHERE fragment: a bound parameter, a NULL test, an IN list, or the clause keywords
    r"|\b\w+\s*(=|!=|<>|>=|<=|<|>)\s*\?|\bIS\s+(NOT\s+)?NULL\b|\b\w+\s+(NOT\s+)?IN\s*\("
    r"|\bWHERE\b|\bORDER\s+BY\b|\b[a-z_]+\s+(=|!=|<>)\s+'[^']*'",
)


def _modules(root: Path, *, outside: Path | None = None) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if outside is None or outside not in p.parents)


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{a.name}" for a in node.names)
    return names


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (prose, allowed to name SQL)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string constant (f-string parts joined) that is not a docstring, with its line."""
    skip = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else " x " for v in node.values)
            found.append((node.lineno, str(text)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            found.append((node.lineno, node.value))
    return found


def _parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def looks_like_sql(text: str) -> bool:
    return SQL.search(text) is not None


def sql_outside_store() -> list[str]:
    return [
        f"{p.relative_to(SRC)}:{line}: {text[:60]!r}"
        for p in _modules(SRC, outside=STORE)
        for line, text in _strings(_parse(p))
        if looks_like_sql(text)
    ]


def sqlite_imports_outside_store() -> list[str]:
    return [
        f"{p.relative_to(SRC)} imports {name}"
        for p in _modules(SRC, outside=STORE)
        for name in _imports(_parse(p))
        if name == "sqlite3" or name.startswith("sqlite3.")
    ]


def cli_store_imports() -> list[str]:
    return [
        f"{p.relative_to(SRC)} imports {name}"
        for p in _modules(CLI)
        for name in _imports(_parse(p))
        if name == "oneiro.store" or name.startswith("oneiro.store.")
    ]


def test_no_module_outside_the_store_imports_sqlite3() -> None:
    assert sqlite_imports_outside_store() == []


def test_no_sql_text_outside_the_store() -> None:
    assert sql_outside_store() == []


def test_the_cli_never_imports_the_store() -> None:
    assert cli_store_imports() == []


SQL_SAMPLES = [
    "SELECT id FROM entries",
    "INSERT OR IGNORE INTO evidence (a) VALUES (?)",
    "UPDATE predictions SET status = ?",
    "DELETE FROM playbook_items",
    "json_extract(data, '$.test') IS NOT NULL",
    "cycle_id = ?",
    "status = 'validated'",
    "kind = 'contradiction' AND status IN ('staged')",
]
PROSE_SAMPLES = [
    "select_all",
    "called while the store sleeps (sleep='exclusive'); wait for the cycle",
    "no revision 'x'; list them with 'oneiro playbook show'",
]


@pytest.mark.parametrize("text", SQL_SAMPLES)
def test_the_sql_detector_sees_sql(text: str) -> None:
    assert looks_like_sql(text)


@pytest.mark.parametrize("text", PROSE_SAMPLES)
def test_the_sql_detector_lets_prose_pass(text: str) -> None:
    assert not looks_like_sql(text)


def test_the_scanners_see_imports_and_strings_in_a_module(tmp_path: Path) -> None:
    src = 'import sqlite3 as db\nfrom oneiro.store import evidence\nQ = f"SELECT * FROM {t}"\n'
    tree = ast.parse(src)
    assert "sqlite3" in _imports(tree) and "oneiro.store.evidence" in _imports(tree)
    assert any(looks_like_sql(s) for _, s in _strings(tree))


def test_the_cycle_imports_nothing_by_name_at_run_time() -> None:
    """The cycle reaches the store through the protocol, never a row module loaded by name."""
    names = _imports(_parse(SRC / "dream" / "cycle.py"))
    assert not [n for n in names if n == "importlib" or n.startswith("importlib.")]


def test_the_playbook_and_its_rows_import_without_a_cycle() -> None:
    """``oneiro.playbook`` needs nothing from the store at run time (only for type checking), so
    ``constraints -> playbook -> store.playbook -> playbook`` is no longer a loop."""
    tree = _parse(SRC / "playbook.py")
    runtime = [
        n
        for node in tree.body  # type: ignore[attr-defined]
        if isinstance(node, ast.ImportFrom | ast.Import)
        for n in _imports(node)
    ]
    assert [n for n in runtime if n.startswith("oneiro.store")] == []
