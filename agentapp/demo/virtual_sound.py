"""A private PulseAudio server for the tests and benchmarks that need real sound, as
virtual_display.py is a private X server: its own runtime folder (0700), two null sinks
(`spk`, the speakers; `micsink`, whose monitor stands for a microphone), an anonymous unix
socket that only this machine's processes given PULSE_SERVER reach. Started and stopped by
PID. Debian: pulseaudio, pulseaudio-utils."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from agentapp.core.errors import Refusal
from agentapp.i18n import _

TOOLS = ("pulseaudio", "parec", "paplay", "pactl")


class SoundServerError(Refusal):
    pass


class VirtualSound:
    def __init__(self) -> None:
        self.folder: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}  # PULSE_SERVER for the clients

    @staticmethod
    def missing() -> list[str]:
        return [t for t in TOOLS if shutil.which(t) is None]

    def start(self, timeout: float = 10.0) -> VirtualSound:
        if self.missing():
            raise SoundServerError(
                _("missing {programs} (pulseaudio-utils)").format(
                    programs=", ".join(self.missing())
                )
            )
        self.folder = Path(tempfile.mkdtemp(prefix="agentapp-sound-"))
        os.chmod(self.folder, 0o700)
        sock = self.folder / "native"
        env = dict(os.environ, XDG_RUNTIME_DIR=str(self.folder), HOME=str(self.folder))
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
             "--disable-shm", "-L", f"module-native-protocol-unix auth-anonymous=1 socket={sock}",
             "-L", "module-null-sink sink_name=spk", "-L", "module-null-sink sink_name=micsink"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SoundServerError(_("PulseAudio did not start"))
            time.sleep(0.05)
        self.env = {"PULSE_SERVER": f"unix:{sock}"}
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
