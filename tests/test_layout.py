"""The package's layout: its imports run one way (no cycles), and the light modules load without torch."""

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import cwrnn

PACKAGE = Path(cwrnn.__file__).parent
#: Modules the pages and quick commands import: they must not load torch (seconds of start-up).
TORCH_FREE = [
    "cwrnn.config",
    "cwrnn.clock",
    "cwrnn.paper",
    "cwrnn.experiment",
    "cwrnn.grid",
    "cwrnn.cli",
    "cwrnn.models.sizing",
    "cwrnn.runs.jobs",
    "cwrnn.runs.manager",
    "cwrnn.app.playground_state",
    "cwrnn.app.runs_view",
    "cwrnn.app.paper_results",
    "cwrnn.app.sweep_view",
]


def modules() -> list[str]:
    return ["cwrnn", *(m.name for m in pkgutil.walk_packages([str(PACKAGE)], "cwrnn."))]


def source(module: str) -> Path:
    path = PACKAGE.parent / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def imports(module: str, known: set[str]) -> set[str]:
    """The package's own modules that `module` imports anywhere in its body (functions included)."""
    is_package = source(module).name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source(module).read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = f"{base}.{node.module}" if node.level and node.module else base if node.level else node.module
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:  # `from .x import f`: the module is .x, not .x.f
                name = name.rpartition(".")[0]
            if name and name != module and not (module + ".").startswith(name + "."):
                found.add(name)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_imports_have_no_cycle():
    known = set(modules())
    graph = {m: imports(m, known) for m in known}
    assert graph["cwrnn.experiment"] >= {"cwrnn.config"}  # the walk sees relative imports
    assert "cwrnn.train" in graph["cwrnn.grid"]  # and imports inside functions
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_imports_in_a_fresh_interpreter():
    code = f"import importlib\nfor m in {modules()!r}:\n    importlib.import_module(m)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("module", TORCH_FREE)
def test_light_modules_load_without_torch(module):
    code = (
        f"import sys, json, {module}\nprint(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [], f"{module} loads torch"


def test_a_worker_loads_neither_pandas_nor_plotly():
    """A standby worker's imports, and both jobs' modules: the figures' libraries stay in the app."""
    code = (
        "import sys\nfrom cwrnn.runs import jobs\njobs.warm_up()\nimport cwrnn.grid, cwrnn.runs.worker\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'plotly', 'streamlit'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def absolute_imports(module: str) -> set[str]:
    """The top-level packages `module` imports by absolute name."""
    tree = ast.parse(source(module).read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0]
    return {name.split(".")[0] for name in names}


def test_the_package_imports_itself_relatively():
    assert [m for m in modules() if "cwrnn" in absolute_imports(m)] == []


def test_the_library_never_imports_streamlit():
    assert [m for m in modules() if "streamlit" in absolute_imports(m)] == []
