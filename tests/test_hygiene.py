"""The shape of the code, checked: where SQL lives, who imports whom, no import cycles.

In the spirit of Harlequin's import test. The import graph is read with ``ast`` from the
source (imports inside functions count; ``if TYPE_CHECKING:`` blocks do not, since they
never run), so a check fails on the line that breaks the rule, before it ships.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("storage", "runner", "home", "cli", "tui", "agents")

_SQL = re.compile(
    r"\bSELECT\s|\bINSERT\s|\bUPDATE\s.*\sSET\s|\bDELETE\s+FROM\b|\bPRAGMA\b|\bCREATE\s+TABLE\b"
)
_RAW = re.compile(r"\.db\.execute|\bstore\.db\b|\baiosqlite\b|\bsqlite3\.connect\b")


@cache
def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skip.update(id(n) for n in ast.walk(child))
    return [n for n in ast.walk(tree) if id(n) not in skip]


def _imports(module: str, path: Path) -> set[str]:
    """Every module (ours or not) that ``module`` imports, at any depth of its code."""
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


@cache
def _graph() -> dict[str, set[str]]:
    """Our modules -> our modules they import (a name imported from a package that is
    not a module of it counts as the package)."""
    mods = _modules()
    graph = {}
    for module, path in mods.items():
        deps = set()
        for name in _imports(module, path):
            while name and name not in mods:
                name = name.rpartition(".")[0]
            if name and name != module:
                deps.add(name)
        graph[module] = deps
    return graph


def _top(name: str) -> str:
    return name.split(".")[0]


# -- (a) SQL and the raw connection stay inside storage --------------------------------------
def _sql_outside_storage() -> list[str]:
    found = []
    for module, path in _modules().items():
        if _top(module) == "storage":
            continue
        tree = ast.parse(path.read_text(), str(path))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and _SQL.search(node.value)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: SQL {node.value[:50]!r}")
        # (sqlite3 itself may be imported: its exception types are how errors are caught.)
        for name in _imports(module, path):
            if _top(name) == "aiosqlite":
                found.append(f"{path.relative_to(ROOT)}: imports {name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _RAW.search(ast.unparse(node)):
                found.append(
                    f"{path.relative_to(ROOT)}:{node.lineno}: raw connection {ast.unparse(node)}"
                )
    return sorted(set(found))


def test_no_sql_and_no_raw_connection_outside_storage():
    assert _sql_outside_storage() == []


# -- (b) the CLI does not import Textual -----------------------------------------------------
def test_the_cli_parser_and_help_do_not_import_textual():
    code = (
        "import sys, contextlib, io\n"
        "import cli\n"
        "cli.build_parser()\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        cli.main(['ls', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'usage' in out.getvalue(), out.getvalue()\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "assert not leaked, leaked[:5]\n"
        "print('NO-TEXTUAL')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "NO-TEXTUAL" in done.stdout


# -- (c) imports flow one way: cli -> tui -> runner -> storage ------------------------------
FORBIDDEN = {
    "storage": {"runner", "tui", "cli", "home", "agents", "textual"},
    "agents": {"runner", "tui", "cli", "home", "textual"},  # pure: what agents are
    "runner": {"tui", "cli", "textual"},
    "home": {"tui", "cli", "textual"},
    "tui": {"cli"},
}


def _layer_violations() -> list[str]:
    found = []
    for module, path in _modules().items():
        banned = FORBIDDEN.get(_top(module), set())
        for name in _imports(module, path):
            if _top(name) in banned:
                found.append(f"{module} imports {name}")
    return sorted(set(found))


def test_imports_flow_one_way():
    assert _layer_violations() == []


# -- (d) no import cycles ---------------------------------------------------------------------
def _cycles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_no_import_cycles_in_storage():
    assert [c for c in _cycles() if _top(c[0]) == "storage"] == []


def test_no_import_cycles_anywhere():
    assert _cycles() == []


# -- shared vocabularies ----------------------------------------------------------------------
def test_the_fields_a_user_edits_in_the_app_are_fields_storage_saves():
    from storage import SESSION_EDITABLE
    from tui.state import USER_EDITABLE

    assert set(USER_EDITABLE) - {"tags"} <= SESSION_EDITABLE
