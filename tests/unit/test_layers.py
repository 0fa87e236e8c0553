"""The layers hold: the composition root is the top (only the command line's
`run` and `notice` commands, in cli/agent.py, import agentapp.agent.app); core/ imports only core/
and the text catalogue (agentapp.i18n: a leaf of the standard library and Babel);
only ui/ and demo/ import PySide6; nothing outside cli/ imports the command line but the
installed entry point; the product imports nothing of demo/ but the `demo` command."""

from __future__ import annotations

import ast
from pathlib import Path

import agentapp

ROOT = Path(agentapp.__file__).parent
CALLERS = {"cli/agent.py"}  # the commands that start what app.py wires


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_nothing_below_the_composition_root_imports_it() -> None:
    offenders = sorted(
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.py")
        if p.name != "app.py"
        and str(p.relative_to(ROOT)) not in CALLERS
        and "agentapp.agent.app" in _imports(p)
    )
    assert offenders == []
    assert "agentapp.agent.app" in _imports(ROOT / "cli/agent.py")  # the check reads real imports


def _modules() -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): _imports(p) for p in ROOT.rglob("*.py")}


def test_core_imports_only_core() -> None:
    bad = {m: sorted(n for n in names if n.startswith("agentapp.") and
                     not n.startswith(("agentapp.core", "agentapp.i18n")))
           for m, names in _modules().items() if m.startswith("core/")}  # fmt: skip
    assert {m: n for m, n in bad.items() if n} == {}
    assert "agentapp.core.policy" in _imports(ROOT / "core" / "gate.py")
    leaf = {n for n in _imports(ROOT / "i18n" / "__init__.py") if n.startswith("agentapp")}
    assert leaf == set()  # the catalogue itself imports nothing of the product


def test_only_ui_and_the_demo_import_qt() -> None:
    qt = sorted(m for m, names in _modules().items()
                if any(n.split(".")[0] == "PySide6" for n in names)
                and not m.startswith(("ui/", "demo/")))  # fmt: skip
    assert qt == []
    assert any(n.startswith("PySide6") for n in _imports(ROOT / "ui" / "tray.py"))


def test_nothing_outside_the_command_line_imports_it() -> None:
    users = sorted(m for m, names in _modules().items()
                   if any(n == "agentapp.cli" or n.startswith("agentapp.cli.") for n in names)
                   and not m.startswith("cli/"))  # fmt: skip
    assert users == ["entry.py"]  # the installed command, after the hook's fast path


def test_the_product_imports_nothing_of_the_demo() -> None:
    users = sorted(m for m, names in _modules().items()
                   if any(n == "agentapp.demo" or n.startswith("agentapp.demo.") for n in names)
                   and not m.startswith("demo/"))  # fmt: skip
    assert users == ["cli/agent.py"]  # `agentapp demo` runs it


def test_the_product_does_not_import_opencv() -> None:
    """OpenCV is the tests' judge of pixels, not part of the product: a module
    that imported it would fail in the bundle, which does not carry it."""
    users = sorted(m for m, names in _modules().items()
                   if any(n.split(".")[0] == "cv2" for n in names))  # fmt: skip
    assert users == []
    assert "av" in _imports(ROOT / "capture" / "encoder.py")  # the check reads real imports


def test_no_text_of_the_project_cites_an_issue_number() -> None:
    """Readers of the project cannot look issues up: a comment, docstring or document says
    the why itself."""
    import re

    project = ROOT.parent
    cited = re.compile(r"\bissues? \d+\b", re.IGNORECASE)
    files = [*ROOT.rglob("*.py"), *ROOT.rglob("*.sql"), *(project / "tests").rglob("*.py"),
             *(project / "docs").rglob("*.md"), *(project / "bench").glob("*"),
             *(project / "scripts").glob("*"), project / "README.md"]  # fmt: skip
    offenders = [
        f"{f.relative_to(project)}:{n}"
        for f in files
        if f.is_file() and f.suffix in (".py", ".sql", ".md", ".sh", "")
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1)
        if cited.search(line)
    ]
    assert not offenders, offenders


def test_the_packages_top_level_holds_at_most_four_modules() -> None:
    """Modules live in packages named for what they hold (agent/, files/, trainer/…)."""
    loose = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(loose) <= 4, loose


def _product_imports(path: Path) -> set[str]:
    """The product's modules `path` imports, at any depth (a function's lazy import too);
    `from a.b import c` counts a.b.c when c is a module, and a.b only when something else
    is taken from it."""
    names: set[str] = set()
    for n in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(n, ast.Import):
            names.update(a.name for a in n.names)
        elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
            subs = {f"{n.module}.{a.name}" for a in n.names} & KNOWN
            names |= subs if len(subs) == len(n.names) else {*subs, n.module}
    return names & KNOWN


def _name(p: Path) -> str:
    parts = ("agentapp", *p.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


KNOWN = {_name(p) for p in ROOT.rglob("*.py")}


def test_no_import_cycle() -> None:
    """No two modules need each other, not even through a function's lazy import: each
    cycle is a room that should be one, or a rule in the wrong room."""
    graph = {_name(p): _product_imports(p) - {_name(p)} for p in ROOT.rglob("*.py")}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycles.append([*path[path.index(n) :], n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []
    assert "agentapp.files.layout" in graph["agentapp.site.shipper"]  # the check reads imports


MAX_CLASS_LINES, MAX_METHODS, MAX_MODULE_LINES = 400, 30, 600


def _sizes() -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Each module's lines; each class's lines and methods (properties count)."""
    modules, classes = {}, {}
    for p in ROOT.rglob("*.py"):
        text = p.read_text()
        name = str(p.relative_to(ROOT))
        modules[name] = len(text.splitlines())
        for node in ast.walk(ast.parse(text, name)):
            if isinstance(node, ast.ClassDef):
                methods = [n for n in node.body
                           if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]  # fmt: skip
                span = (node.end_lineno or node.lineno) - node.lineno + 1
                classes[f"{name}:{node.name}"] = (span, len(methods))
    return modules, classes


def test_no_room_grows_into_a_hall() -> None:
    """No class over 400 lines or 30 methods, no module over 600 lines: a reader finds a
    rule in a room that holds only what changes with it."""
    modules, classes = _sizes()
    assert {m: n for m, n in modules.items() if n > MAX_MODULE_LINES} == {}
    big = {c: s for c, s in classes.items() if s[0] > MAX_CLASS_LINES or s[1] > MAX_METHODS}
    assert big == {}
    assert classes["agent/engine.py:Engine"][1] >= 10  # the count reads real classes
