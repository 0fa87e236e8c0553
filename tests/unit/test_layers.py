"""The composition root is the top: nothing below it imports agentapp.app (issue 15). The
command line's `run` and `notice` commands are the only callers: they start the agent."""

from __future__ import annotations

import ast
from pathlib import Path

import agentapp

ROOT = Path(agentapp.__file__).parent
CALLERS = {"cli.py"}  # the entry point that starts what app.py wires


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
        and "agentapp.app" in _imports(p)
    )
    assert offenders == []
    assert "agentapp.app" in _imports(ROOT / "cli.py")  # the check reads real imports
