"""The session-lock watcher asks the screen savers that run, and starts none: on a real
dbus-daemon whose service folder can start a program for org.gnome.ScreenSaver (as
gnome-shell's package installs on every Debian desk with GNOME, whatever desktop runs)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentapp.platform.session_lock import SessionLockWatcher
from tests.integration.conftest import need

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={run}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def bus_with_a_startable_saver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A session bus that would start a program for org.gnome.ScreenSaver; that program
    only leaves a mark. Stopped by PID after the test."""
    need(shutil.which("dbus-daemon") is not None, "dbus-daemon is not installed")
    services, run = tmp_path / "services", tmp_path / "run"
    services.mkdir()
    run.mkdir()
    mark = tmp_path / "started"
    program = tmp_path / "saver.sh"
    program.write_text(f"#!/bin/sh\necho started >> {mark}\nsleep 5\n")
    program.chmod(0o755)
    (services / "org.gnome.ScreenSaver.service").write_text(
        f"[D-BUS Service]\nName=org.gnome.ScreenSaver\nExec={program}\n"
    )
    config = tmp_path / "bus.conf"
    config.write_text(CONFIG.format(run=run, services=services))
    daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork",
                               "--print-address=1"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert daemon.stdout is not None
        yield daemon.stdout.readline().strip(), mark
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def test_asking_whether_the_screen_is_locked_starts_no_screen_saver(
    bus_with_a_startable_saver: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    address, mark = bus_with_a_startable_saver
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/system_bus")
    watcher = SessionLockWatcher()
    try:
        assert watcher.ready.wait(10), "the watcher did not ask the bus"
        time.sleep(1.0)  # a started program writes its mark at once
        assert watcher.locked() is None
    finally:
        watcher.close()
    assert not mark.exists(), "asking for the lock state started a screen saver"
