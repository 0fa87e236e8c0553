"""Write agentapp(1) from the command line's own parser (argparse-manpage), so the manual
page cannot drift from `agentapp --help`. Usage: .venv/bin/python scripts/manpage.py OUT.1"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["AGENTAPP_LANG"] = "en"  # the manual is English (man/fr would be a second page)

from build_manpages.manpage import Manpage

from agentapp import __version__
from agentapp.cli.main import _parser


def main(argv: list[str]) -> int:
    parser = _parser()
    page = Manpage(parser, _data={
        "prog": "agentapp", "version": __version__, "project_name": "agentapp",
        "description": "training-only screen video of the business window during calls",
        "authors": ["the agentapp team"],
    })  # fmt: skip
    Path(argv[0]).write_text(str(page))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
