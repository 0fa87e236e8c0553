"""R11: video only. No command or module of the product writes a still image of a recording;
the only image writers are the documentation's screenshot tools, which draw the product's own
windows (and sample data), never a recording."""

from __future__ import annotations

import re
from pathlib import Path

from agentapp.cli.main import _parser

PACKAGE = Path(__file__).parents[2] / "agentapp"
DOC_TOOLS = {"demo/screenshots.py", "demo/console_screenshots.py"}
IMAGE_WRITERS = re.compile(r"imwrite|\.save\(|\.grabWindow|\.png|\.jpe?g|image/")


def test_no_module_writes_an_image_but_the_documentation_tools() -> None:
    writers = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if IMAGE_WRITERS.search(p.read_text()) and str(p.relative_to(PACKAGE)) not in DOC_TOOLS
    )
    assert writers == [], writers


def test_no_command_takes_a_still() -> None:
    text = _parser().format_help() + "".join(
        a.format_help()
        for a in _parser()._subparsers._group_actions[0].choices.values()  # type: ignore[union-attr]
    )
    for word in ("screenshot", "snapshot", "still", "save frame", "--png", "image"):
        assert word not in text.lower(), word
