"""The GPL's written source offer for the Debian package, with the versions of what this
build bundles (from the build's own environment, so it cannot name other versions).

Usage: python scripts/source_offer.py installer/linux/SOURCE-OFFER.in > SOURCE-OFFER
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

DISTRIBUTIONS = ("agentapp", "av", "numpy", "pynput", "python-xlib", "pyinstaller")


def fields() -> dict[str, str]:
    import av
    import PySide6
    from PySide6 import QtCore

    out = {name: version(name) for name in DISTRIBUTIONS}
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True)
    out.update(
        ffmpeg=str(av.ffmpeg_version_info),
        pyside6=PySide6.__version__,
        qt=QtCore.qVersion(),
        arch=arch.stdout.strip() or "unknown",
    )
    return out


if __name__ == "__main__":
    sys.stdout.write(Path(sys.argv[1]).read_text(encoding="utf-8").format(**fields()))
