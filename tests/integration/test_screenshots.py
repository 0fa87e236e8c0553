"""The documentation screenshots come from the real tray on a real X desktop; this keeps the
script that makes them working (and its pictures non-empty)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from tests.integration.conftest import need

pytestmark = pytest.mark.x11


def test_screenshot_script_makes_every_picture(tmp_path: Path) -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed")
    r = subprocess.run([sys.executable, "-m", "agentapp.demo.screenshots", str(tmp_path)],
                       capture_output=True, text=True, timeout=180)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    names = {"notice-en.png", "notice-fr.png", "desktop-recording.png", "tray-menu.png",
             "indicator-paused.png", "status-window.png"}  # fmt: skip
    assert {p.name for p in tmp_path.glob("*.png")} == names
    for name in names:
        img = QImage(str(tmp_path / name)).convertToFormat(QImage.Format.Format_RGB888)
        arr = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes())
        assert img.width() > 100 and arr.std() > 10, f"{name} looks blank"


def test_console_screenshots_are_made_in_real_windows(tmp_path: Path) -> None:
    from agentapp.demo.console_screenshots import SHOTS

    need(shutil.which("Xvfb") is not None, "Xvfb is not installed")
    r = subprocess.run([sys.executable, "-m", "agentapp.demo.console_screenshots", str(tmp_path)],
                       capture_output=True, text=True, timeout=180)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert {p.name for p in tmp_path.glob("*.png")} == set(SHOTS)
    for name in SHOTS:
        img = QImage(str(tmp_path / name)).convertToFormat(QImage.Format.Format_RGB888)
        arr = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes())
        assert img.width() > 100 and arr.std() > 10, f"{name} looks blank"
