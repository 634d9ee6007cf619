"""model/ has no import cycle, counting imports inside functions too, and every module imports."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "model"


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported_modules(path: Path, known: set[str], this: str) -> set[str]:
    """The package's own modules that ``path`` imports anywhere in it, with the packages whose
    ``__init__`` runs on the way (importing ``a.b.c`` runs ``a`` and ``a.b`` first)."""
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # ``from model.serving import artifacts`` imports the module model.serving.artifacts.
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    # A module's own packages have run their __init__ before it, so importing them is no edge.
    ancestors = {".".join(this.split(".")[:i]) for i in range(1, this.count(".") + 1)}
    return {name for name in found if name in known and name != this and name not in ancestors}


def import_graph() -> dict[str, set[str]]:
    names = module_names()
    return {name: imported_modules(path, set(names), name) for name, path in names.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of names (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from model.scratch.network import load_network\n")
    known = {"model", "model.scratch", "model.scratch.network"}
    assert imported_modules(source, known, "x") == known
    assert imported_modules(source, known, "model.x") == {"model.scratch", "model.scratch.network"}


def test_model_has_no_import_cycle():
    graph = import_graph()
    assert {"model.train", "model.training.results", "model.scratch.training", "model.serving.inference"} <= graph.keys()
    assert "model.training.results" in graph["model.scratch.training"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_every_module_imports_on_its_own_in_either_order():
    names = [name for name in module_names() if not name.endswith("__main__")]
    for order in (names, names[::-1]):
        code = "import importlib\nfor name in %r:\n    importlib.import_module(name)\n" % order
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                timeout=300, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stderr[-3000:]
