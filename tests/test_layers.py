"""The layer rules of ``docs/design.md``, read from the source: who may import whom, where
process-wide state may live, and how large a module, a class or a function may grow."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import livebar

SRC = Path(livebar.__file__).resolve().parent
PACKAGE = SRC.parent

MAX_MODULE_LINES = 650
MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 60
IO_MODULES = ("httpx", "threading", "socket", "sqlite3", "redis")
SHELLS = (
    "livebar._ledger",
    "livebar._wire.client",
    "livebar._engine.dispatcher",
    "livebar._engine.runtime",
    "livebar._process",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield module_name(path), path, ast.parse(path.read_text(encoding="utf-8"))


def imports(tree: ast.AST) -> set[str]:
    """Every module ``tree`` imports (run time or type checking), ``from livebar import x``
    read as ``livebar.x``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "livebar":
                found.update(f"livebar.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
                if node.module.startswith("livebar."):
                    found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def livebar_imports(tree: ast.AST, own: str) -> set[str]:
    return {m for m in imports(tree) if m.startswith("livebar") and not m.startswith(own)}


def offenders(layer: str, allowed: tuple[str, ...]) -> dict[str, set[str]]:
    """Modules of ``layer`` importing livebar modules outside ``allowed`` (and the layer)."""
    found = {}
    for name, _path, tree in sources():
        if name == layer or name.startswith(layer + "."):
            bad = {
                m
                for m in livebar_imports(tree, layer)
                if not any(m == a or m.startswith(a + ".") for a in allowed)
            }
            if bad:
                found[name] = bad
    return found


def test_the_wire_knows_no_activity_thread_or_ledger() -> None:
    """``_wire`` imports only ``_defaults`` and ``_version`` of livebar."""
    allowed = ("livebar._defaults", "livebar._version", "livebar._log")
    assert {} == offenders("livebar._wire", allowed)


def test_the_job_layer_knows_only_the_wire() -> None:
    """``_job`` imports only ``_wire`` and ``_defaults``."""
    assert {} == offenders("livebar._job", ("livebar._wire", "livebar._defaults", "livebar._log"))


def test_the_ledger_knows_no_engine() -> None:
    """``_ledger`` imports nothing of the engine, the job or the activity."""
    allowed = ("livebar._wire", "livebar._defaults", "livebar._version", "livebar._log")
    assert {} == offenders("livebar._ledger", allowed)


RESHAPING = pytest.mark.xfail(reason="the reshape is under way (issue 18)", strict=True)


@pytest.mark.parametrize(
    "name",
    [
        "pacing",
        "verdicts",
        "requests",
        "share",
        "messages",
        "freshness",
        "budgets",
    ],
)
def test_decisions_do_no_io(name: str) -> None:
    """The engine's decisions import no I/O module, no ledger, no client, no shell."""
    path = SRC / "_engine" / f"{name}.py"
    found = imports(ast.parse(path.read_text(encoding="utf-8")))
    forbidden = {m for m in found if m.split(".")[0] in IO_MODULES or m.startswith(SHELLS)}
    assert set() == forbidden


def test_integrations_use_the_public_api() -> None:
    """Integrations import public names, the activity facade, the job layer's vocabulary (options,
    endings' facts, loop reading), their private helpers and the fork registry: never the
    engine, the ledger or the wire."""
    allowed = (
        "livebar._activity",
        "livebar._integrations",
        "livebar._defaults",
        "livebar._job",
        "livebar._process.fork",
        "livebar._log",
    )
    found = {}
    for name, _path, tree in sources():
        integration = name.startswith("livebar._integrations.") or name in (
            "livebar.lightning",
            "livebar.keras",
            "livebar.transformers",
            "livebar.dask",
            "livebar.ray",
            "livebar.contrib.concurrent",
            "livebar.celery",
            "livebar.prefect",
            "livebar.airflow",
            "livebar.pytest_plugin",
        )
        if not integration:
            continue
        bad = {
            m
            for m in livebar_imports(tree, name)
            if m.startswith("livebar._") and not any(m.startswith(a) for a in allowed)
        }
        bad |= {m for m in imports(tree) if m.startswith("livebar.") and m[8:9] == "_"} - {
            m for m in imports(tree) if any(m.startswith(a) for a in allowed)
        }
        if bad:
            found[name] = bad
    assert {} == found


def test_process_wide_state_lives_in_the_runtime() -> None:
    """``global`` statements only in the runtime; no ``sys.modules`` lookups of livebar."""
    found = []
    for name, path, tree in sources():
        text = path.read_text(encoding="utf-8")
        if 'sys.modules.get("livebar' in text:
            found.append(f"{name}: sys.modules lookup")
        if name == "livebar._engine.runtime":
            continue
        found += [f"{name}:{n.lineno} global" for n in ast.walk(tree) if isinstance(n, ast.Global)]
    assert [] == found


def test_no_giant_rooms() -> None:
    """No module over 650 lines, no class over 400, no function over 60."""
    found = []
    for name, path, tree in sources():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{name}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
                if size > limit:
                    found.append(f"{name}.{node.name}: {size} lines")
    assert [] == found
