"""The service and MCP edges stay thin: no module under ``oneiro/service`` imports the store or
the SQLite driver (they reach the store only through ``Memory``), and importing the package
(what ``oneiro init`` does for the token) needs no optional dependency."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "src" / "oneiro" / "service"


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
    return names


def test_no_service_module_imports_the_store_or_sqlite() -> None:
    bad = {
        f"{p.name}: {name}"
        for p in SERVICE.rglob("*.py")
        for name in _imported(p)
        if name in ("sqlite3", "oneiro.store") or name.startswith("oneiro.store.")
    }
    assert bad == set()
    assert len(list(SERVICE.rglob("*.py"))) >= 10, "the scan sees the package"


def test_the_token_module_imports_without_the_service_extra() -> None:
    code = (
        "import sys; sys.modules.update({'fastapi': None, 'uvicorn': None, 'mcp': None}); "
        "import oneiro.service.token, oneiro.cli; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
