"""The core library must never depend on Django (one direction of imports)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "src" / "spadok" / "core"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_django_or_the_site() -> None:
    offenders = []
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 10, "the core library should be here"
    for path in files:
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "django" or name.startswith(
                ("spadok.catalogue", "spadok.site", "spadok.jobs")
            ):
                offenders.append(f"{path.relative_to(CORE)} imports {name}")
    assert offenders == []
