"""The Windows installer script compiles with NSIS (warnings are errors), carries the payload
and the uninstaller, and calls `agentapp machine configure` with options the CLI accepts."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tests.integration.conftest import need

ROOT = Path(__file__).resolve().parents[2]
NSI = ROOT / "installer/windows/agentapp.nsi"


def test_nsis_script_compiles_with_a_placeholder_payload(tmp_path: Path) -> None:
    need(shutil.which("makensis") is not None, "makensis is not installed (Debian: nsis)")
    out = tmp_path / "agentapp-setup.exe"
    r = subprocess.run(["bash", str(ROOT / "scripts/build-windows-installer.sh"), "", str(out)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.read_bytes()[:2] == b"MZ"
    need(shutil.which("7z") is not None, "7z is not installed (Debian: p7zip-full)")
    listing = subprocess.run(["7z", "l", str(out)], capture_output=True, text=True).stdout
    for name in ("agentapp.exe", "_internal/placeholder.txt", "uninstall.exe", "nsExec.dll",
                 "nsDialogs.dll"):  # fmt: skip
        assert name in listing, f"{name} is not in the installer:\n{listing}"


def test_nsis_script_refuses_to_build_without_a_payload(tmp_path: Path) -> None:
    need(shutil.which("makensis") is not None, "makensis is not installed (Debian: nsis)")
    r = subprocess.run(["makensis", "-V1", "-DVERSION=0.0.1", f"-DOUTFILE={tmp_path / 'x.exe'}",
                        str(NSI)], capture_output=True, text=True)  # fmt: skip
    assert r.returncode != 0 and "define PAYLOAD" in r.stdout + r.stderr


def test_the_installer_configure_line_is_one_the_cli_accepts(tmp_path: Path) -> None:
    """The NSIS parameters, substituted into the script's own command line, run for real."""
    line = next(x for x in NSI.read_text().splitlines() if "nsExec::ExecToLog" in x)
    command = re.search(r"'(.*)'", line).group(1)  # type: ignore[union-attr]
    pem = (
        X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    key = pem.decode().splitlines()[1]
    values = {"$INSTDIR\\${APP}.exe": "agentapp", "$APPDATA\\${APP}": str(tmp_path / "pd"),
              "$SiteFolder": "/srv/agentapp-site", "$EventSource": "hook",
              "$RecordingKey": key, "$SigningKey": ""}  # fmt: skip
    for name, value in values.items():
        command = command.replace(name, value)
    argv = shlex.split(command)
    assert argv[0] == "agentapp"
    r = subprocess.run([sys.executable, "-m", "agentapp", *argv[1:]], capture_output=True,
                       text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "pd" / "agent.toml").exists()
    assert (tmp_path / "pd" / "recording-public-key.pem").exists()
