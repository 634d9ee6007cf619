"""model/ has no import cycle, counting imports inside functions too, and every module imports;
no module of the app (model/, pages/, app.py) uses another package's private names."""
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


def app_modules() -> dict[str, Path]:
    """The app's own modules: model/'s, pages/'s and app.py (the tests may look inside what they test)."""
    names = module_names()
    names.update({f"pages.{path.stem}": path for path in sorted((ROOT / "pages").glob("*.py"))})
    names["app"] = ROOT / "app.py"
    return names


def package_of(name: str, names: dict[str, Path]) -> str:
    """The package a module belongs to: itself for a package's ``__init__``, else its parent."""
    return name if names[name].name == "__init__.py" else name.rpartition(".")[0]


def private_uses(path: Path, names: dict[str, Path], this: str) -> list[str]:
    """Every underscore-prefixed name of another package's module that ``path`` imports
    (``from model.x import _y``) or reaches through a module it imported (``x._y``)."""
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    mine = package_of(this, names) if this in names else package
    bound: dict[str, str] = {}  # a local name -> the module it stands for
    found = []

    def private(name: str) -> bool:
        # "_" alone is gettext's translate function (pages.common_language), public by convention.
        return name.startswith("_") and not name.startswith("__") and name != "_"

    def check(module: str, name: str) -> None:
        if private(name) and module in names and package_of(module, names) != mine:
            found.append(f"{module}.{name}")

    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in names:
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
                else:
                    check(base, alias.name)

    def module_at(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return bound.get(node.id)
        if isinstance(node, ast.Attribute):
            outer = module_at(node.value)
            return f"{outer}.{node.attr}" if outer and f"{outer}.{node.attr}" in names else None
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (module := module_at(node.value)):
            check(module, node.attr)
    return sorted(set(found))


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
    # Both orders at once, one process each (the machine has two cores).
    runs = [subprocess.Popen([sys.executable, "-c", "import importlib\nfor name in %r:\n"
                              "    importlib.import_module(name)\n" % order],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
            for order in (names, names[::-1])]
    for run in runs:
        _out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-3000:]


def test_the_private_name_finder_finds_them(tmp_path):
    names = {"model": Path("model/__init__.py"), "model.a": Path("model/a.py"),
             "model.jobs": Path("model/jobs/__init__.py"), "model.jobs.slot": Path("model/jobs/slot.py"),
             "model.jobs.queue": Path("model/jobs/queue.py")}
    source = tmp_path / "x.py"
    source.write_text("from model.jobs.slot import _guard, read\nfrom model.jobs import slot\nimport model.a\n"
                      "def f():\n    slot._lock()\n    model.a._b()\n    slot.read()\n    slot.__name__\n")
    assert private_uses(source, names, "pages.x") == ["model.a._b", "model.jobs.slot._guard", "model.jobs.slot._lock"]
    # Within a package, its modules share their helpers.
    assert private_uses(source, names, "model.jobs.queue") == ["model.a._b"]


def test_no_module_uses_another_package_s_private_names():
    names = app_modules()
    assert {"app", "pages.common_frame", "model.jobs.slot"} <= names.keys()
    found = {name: uses for name, path in names.items() if (uses := private_uses(path, names, name))}
    assert found == {}, found
