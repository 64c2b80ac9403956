"""The layering of STYLE.md, as a test: data flows api → service → ingest/scoring/query →
store, and the domain knows no HTTP and no SQL. Every import counts, function-local ones too."""

from __future__ import annotations

import ast
from pathlib import Path

import callquality

SRC = Path(callquality.__file__).parent

# package -> packages of callquality it must never import
FORBIDDEN: dict[str, set[str]] = {
    "domain": {"api", "service", "store", "query", "ingest", "scoring", "cli", "config"},
    "scoring": {"api", "service", "store", "query", "ingest"},
    "ingest": {"api", "service", "store", "query", "scoring"},
    "store": {"api", "service", "query", "ingest", "scoring"},
    "query": {"api", "service", "ingest"},
    "service": {"api", "cli"},
}
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn")


def imports_of(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import in a module, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base == "callquality":  # from callquality import x: x is the package
                found.extend((node.lineno, f"callquality.{a.name}") for a in node.names)
            else:
                found.append((node.lineno, base))
    return found


def violations(src: Path) -> list[str]:
    """Every import that breaks the layering, as 'file:line: what'."""
    out = []
    for path in sorted(src.rglob("*.py")):
        relative = path.relative_to(src)
        if relative.parts[0] == "store" and "migrations" in relative.parts:
            continue  # Alembic's environment reads the schema; that is its job
        layer = relative.parts[0].removesuffix(".py")
        package = ".".join(["callquality", *relative.parts[:-1]])
        for line, module in imports_of(path, package):
            where = f"{relative}:{line}"
            if module.split(".")[0] in WEB_FRAMEWORKS and layer not in ("api", "cli"):
                out.append(f"{where}: {layer} imports {module} (only api/ speaks HTTP)")
            if not module.startswith("callquality."):
                continue
            target = module.split(".")[1]
            if target in FORBIDDEN.get(layer, set()):
                out.append(f"{where}: {layer} imports {module}")
    return out


def test_the_layers_import_only_downwards() -> None:
    assert violations(SRC) == []


def test_a_domain_module_importing_the_api_is_caught(tmp_path: Path) -> None:
    (tmp_path / "scoring").mkdir()
    (tmp_path / "scoring" / "bad.py").write_text(
        "def f():\n    from callquality.store.db import read_transaction\n"
    )
    (tmp_path / "query").mkdir()
    (tmp_path / "query" / "web.py").write_text("from fastapi import Request\n")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "up.py").write_text("from ..api import errors\n")
    found = violations(tmp_path)
    assert found == [
        "query/web.py:1: query imports fastapi (only api/ speaks HTTP)",
        "scoring/bad.py:2: scoring imports callquality.store.db",
        "store/up.py:1: store imports callquality.api",
    ]


def test_no_package_imports_back_into_one_that_imports_it() -> None:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        layer = relative.parts[0].removesuffix(".py")
        package = ".".join(["callquality", *relative.parts[:-1]])
        for _, module in imports_of(path, package):
            if module.startswith("callquality.") and module.split(".")[1] != layer:
                graph.setdefault(layer, set()).add(module.split(".")[1])
    cycles = sorted(
        f"{a} <-> {b}" for a in graph for b in graph[a] if a < b and a in graph.get(b, set())
    )
    assert cycles == []
