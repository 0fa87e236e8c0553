"""Every text a person reads goes through the catalogue: the messages of every refusal (the
one line the command line, the tray's details or the console print), the command line's own
prints and its --help. A literal left outside `_()` would stay English in French: this test
names it (file and line). test_catalogue.py then checks each marked text has its French."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "agentapp"
HELP_KEYWORDS = {"help", "description", "epilog"}


def _name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _words(node: ast.expr) -> str | None:
    """The words of a literal (constant or f-string) argument, or of a literal in either
    branch of `a if c else b` or in `a + b`; None for any other value."""
    if isinstance(node, ast.IfExp):
        return _words(node.body) or _words(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _words(node.left) or _words(node.right)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    else:
        return None
    text = re.sub(r"%\([a-z]+\)s|\{[^}]*\}|\bagentapp\b", "", text)  # a name stays a name
    return text if re.search(r"[A-Za-z]{2}", text) else None


def refusal_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """Refusal and every class deriving from it (by name, across the package)."""
    found = {"Refusal", "ArgumentTypeError"}
    bases = {
        node.name: {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    grew = True
    while grew:
        new = {name for name, b in bases.items() if b & found} - found
        found |= new
        grew = bool(new)
    return found


def unmarked(trees: dict[Path, ast.Module]) -> list[str]:
    errors = refusal_classes(trees) | {"_error"}  # core/tables.py builds its refusals
    gaps = []
    for path, tree in trees.items():
        front_end = path.parent.name == "cli" or path.name == "hookcli.py"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _name(node)
            shown = []
            if name in errors or (front_end and name == "ValueError"):
                shown = node.args[:1]
            if front_end and name in ("print", "write"):
                shown = node.args[:1]
            if front_end:
                shown += [k.value for k in node.keywords if k.arg in HELP_KEYWORDS]
            for arg in shown:
                words = _words(arg)
                if words is not None:
                    gaps.append(f"{path.relative_to(PACKAGE.parent)}:{arg.lineno}: {words!r}")
    return gaps


def _trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_refusal_print_and_help_text_is_marked_for_translation() -> None:
    gaps = unmarked(_trees())
    assert not gaps, "texts outside the catalogue:\n" + "\n".join(gaps)


def test_the_scan_finds_an_unmarked_refusal_and_help() -> None:
    """The test above can fail: an English literal in a refusal or a --help is named."""
    code = (
        "class ThingError(VaultError):\n    pass\n"
        "def f(x):\n    raise ThingError(f'cannot open {x}')\n"
        "def g(p):\n    p.add_argument('--x', help='the x to use')\n"
    )
    trees = _trees()
    trees[PACKAGE / "cli" / "new.py"] = ast.parse(code)
    gaps = unmarked(trees)
    assert any("cli/new.py:4: 'cannot open '" in g for g in gaps), gaps
    assert any("cli/new.py:6: 'the x to use'" in g for g in gaps), gaps
