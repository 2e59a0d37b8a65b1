"""The house rules, read from the source: imports flow one way with no circle, the harness names no
approach, a plugin imports no other plugin, nothing edits sys.path, and the README stays a user's page."""
import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("bench", "approaches", "benchmarks")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project's modules a file imports, at its top or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out |= {n for n in names if n in known}
    return out


def test_no_import_circle():
    mods = modules()
    graph = {name: imports_of(path, set(mods)) - {name} for name, path in mods.items()}
    state = {}

    def visit(name, trail):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", "import circle: " + " -> ".join(trail + [name])
        state[name] = "open"
        for dep in sorted(graph[name]):
            visit(dep, trail + [name])
        state[name] = "done"

    for name in graph:
        visit(name, [])


def test_the_harness_names_no_approach_and_plugins_import_no_other_plugin():
    mods = modules()
    plugins = {n for n in mods if n.startswith("approaches.")}
    for name, path in mods.items():
        deps = imports_of(path, set(mods))
        if name.startswith("bench"):
            assert not deps & plugins, (name, deps & plugins)
        if name in plugins:
            assert not deps & plugins, f"{name} imports another plugin: {deps & plugins}"


def test_nothing_edits_sys_path():
    for path in [*ROOT.glob("*.py"), *(p for package in (*PACKAGES, "tests") for p in (ROOT / package).rglob("*.py"))]:
        assert "sys.path.insert" not in path.read_text() or path.name == "test_house.py", path


def test_readme_is_a_users_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert "bash setup.sh" in readme and "digitsum-bench --approaches all" in readme
