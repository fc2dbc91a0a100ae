"""The folder listing is the architecture only if nothing leaks: imports point inward."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

WQ = Path(__file__).parents[1] / "wq"

# package → modules it must never import
FORBIDDEN = {
    "wq/model": {"asyncio", "sqlite3", "asyncssh", "socket", "wq.server", "wq.store"},
    "wq/scheduler": {"asyncio", "sqlite3", "asyncssh", "time", "random", "socket",
                     "wq.server", "wq.store", "wq.executor", "wq.protocol"},
    "wq/parsing": {"asyncio", "sqlite3", "asyncssh", "wq.server", "wq.store", "wq.executor",
                   "wq.client"},
    "wq/protocol": {"asyncssh", "sqlite3", "wq.server", "wq.store", "wq.executor"},
    "wq/store": {"asyncio", "asyncssh", "wq.server", "wq.executor", "wq.scheduler"},
    "wq/executor": {"sqlite3", "wq.server", "wq.store", "wq.scheduler", "wq.client"},
    "wq/cli": {"asyncssh", "sqlite3", "wq.store", "wq.executor"},
    # the engine and what it speaks: pure, so it is tested without sshd or an event loop
    **{f"wq/server/{name}.py": {"asyncio", "sqlite3", "asyncssh", "time", "socket",
                                "wq.store", "wq.executor.base", "wq.executor.ssh",
                                "wq.executor.local", "wq.server.runner", "wq.server.hosts"}
       for name in ("state", "effects", "onnode", "verdict", "audience", "counting")},
    "wq/client.py": {"asyncio", "asyncssh", "sqlite3", "yaml", "wq.server", "wq.store",
                     "wq.executor"},
    # a member's launcher builds launches from what it can verify; it holds no state
    "wq/launcher.py": {"sqlite3", "wq.store", "wq.server.state", "wq.server.runner",
                       "wq.server.app", "wq.server.handlers", "wq.scheduler"},
    "wq/signing.py": {"asyncio", "asyncssh", "sqlite3", "wq.server", "wq.store"},
    # the Python API and the Slurm shims are clients like the CLI
    "wq/api.py": {"asyncio", "asyncssh", "sqlite3", "wq.server", "wq.store", "wq.executor"},
    "wq/slurm": {"asyncio", "asyncssh", "sqlite3", "wq.server", "wq.store", "wq.executor"},
}

#: exceptions to FORBIDDEN: srun inside a job runs its own host's share of a step
#: with the node script the server ships to the others (pure text, no asyncssh)
ALLOWED = {"wq/slurm": {"wq.executor.wrapper"}}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


@pytest.mark.parametrize("area", sorted(FORBIDDEN))
def test_imports_point_inward(area: str) -> None:
    root = WQ.parent / area
    files = [root] if root.is_file() else sorted(root.rglob("*.py"))
    assert files
    for path in files:
        for name in imports(path) - ALLOWED.get(area, set()):
            for banned in FORBIDDEN[area]:
                assert not (name == banned or name.startswith(banned + ".")), \
                    f"{path.relative_to(WQ.parent)} imports {name}"


def loaded_by(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_the_cli_and_ls_load_no_asyncssh_yaml_or_asyncio() -> None:
    for statement in ("import wq.cli.main", "import wq.cli.ls, wq.cli.stat, wq.cli.rm"):
        loaded = loaded_by(statement)
        for heavy in ("asyncssh", "yaml", "asyncio", "sqlite3", "tabulate"):
            assert heavy not in loaded, f"{statement} loads {heavy}"


def test_the_engine_loads_no_asyncio_asyncssh_or_sqlite() -> None:
    loaded = loaded_by("import wq.server.state")
    for heavy in ("asyncssh", "asyncio", "sqlite3"):
        assert heavy not in loaded, f"the engine loads {heavy}"


def test_a_submitting_client_creates_only_the_classes_it_needs() -> None:
    """sbatch and `wq sub -b` run once per job under a workflow tool: importing
    them creates no Host, Job or request class (each costs ~1 ms); the request
    they send is created when named."""
    loaded = loaded_by("import wq.cli.main, wq.cli.sub, wq.slurm.commands, wq.slurm.sbatch, "
                       "wq.slurm.submit, wq.submission, wq.client")
    eager = {name for name in loaded if name in ("wq.model.jobs", "wq.model.cluster")
             or name.startswith("wq.protocol.requests.")}
    assert not eager


def _module(path: Path) -> str:
    parts = list(path.relative_to(WQ.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Each module of the package -> the modules of the package it imports, at
    any depth of its code (a function's import counts), but not what it imports
    for the type checker alone, nor its own parent packages (loaded first
    anyway)."""
    modules = {_module(p): p for p in WQ.rglob("*.py") if "node" not in p.parts}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    def for_the_checker(node: ast.If) -> bool:
        test = node.test
        return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
            (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        todo: list[ast.AST] = [ast.parse(path.read_text())]
        while todo:
            node = todo.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and for_the_checker(child):
                    todo.extend(child.orelse)
                    continue
                if isinstance(child, ast.Import):
                    found.update(filter(None, (resolve(a.name) for a in child.names)))
                elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                    found.update(filter(None, (resolve(f"{child.module}.{a.name}")
                                               for a in child.names)))
                todo.append(child)
        graph[name] = {m for m in found if m != name and not name.startswith(m + ".")}
    return graph


def test_the_library_never_imports_the_cli() -> None:
    """wq/cli, `python -m wq` and the Slurm shims (commands too) may use the CLI's
    helpers; nothing else may, so that the library works without click and its
    verbs."""
    def cli(name: str) -> bool:
        return name in ("wq.cli", "wq.slurm", "wq.__main__") or \
            name.startswith(("wq.cli.", "wq.slurm."))

    for name, imported in _graph().items():
        if not cli(name):
            assert not {m for m in imported if cli(m) and not m.startswith("wq.slurm")}, name


def test_there_is_no_import_circle() -> None:
    graph = _graph()
    seen: dict[str, int] = {}            # 1: on the current path, 2: done

    def walk(name: str, path: list[str]) -> None:
        seen[name] = 1
        for other in sorted(graph[name]):
            if seen.get(other) == 1:
                circle = path[path.index(other):] + [other]
                raise AssertionError("an import circle: " + " -> ".join(circle))
            if other not in seen:
                walk(other, [*path, other])
        seen[name] = 2

    for name in sorted(graph):
        if name not in seen:
            walk(name, [name])
