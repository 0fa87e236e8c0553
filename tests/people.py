"""Other people on this machine, for the tests that need more than one OS login: a real user
account (useradd), its own session bus and its own unlocked gnome-keyring, and `agentapp` run
as that user with the system's Python 3 on this checkout and its virtualenv's packages (the
virtualenv's own interpreter may sit in a folder only root enters). Everything started is
stopped by PID and the account removed at the end."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import wait_for_keyring
from tests.integration.conftest import need

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass
class OsUser:
    login: str
    home: Path
    env: dict[str, str]
    pids: list[int] = field(default_factory=list)

    def argv(self, *argv: str) -> list[str]:
        """`argv`, run as this user (their ids and groups, their environment only)."""
        return ["setpriv", f"--reuid={self.login}", f"--regid={self.login}", "--init-groups",
                "env", "-i", *(f"{k}={v}" for k, v in self.env.items()), *argv]  # fmt: skip

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*argv), capture_output=True, text=True, timeout=timeout)

    def agentapp(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run(SYSTEM_PYTHON, "-m", "agentapp", *args, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(SYSTEM_PYTHON, "-m", "agentapp", *args), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _packages() -> str:
    return sysconfig.get_paths()["purelib"]


def _let_others_read(*folders: Path) -> None:
    """Each of `folders` readable by others (Python lists a folder on its path to import from
    it) and each folder above them enterable (o+x: to pass through, not to list), so that the
    test login can import this checkout and its virtualenv: a clone made with `mktemp -d` is
    a folder only root enters. Not taken back: another worker's login may be importing from
    it at that moment."""
    for folder in folders:
        for each, bits in [(folder.resolve(), 0o005)] + [
            (p, 0o001) for p in folder.resolve().parents
        ]:
            mode = each.stat().st_mode
            if mode & bits != bits:
                each.chmod(mode | bits)
                print(f"(others may now enter {each}, for the test logins)", file=sys.stderr)


@contextmanager
def os_user(stem: str, base: Path, extra_env: dict[str, str] | None = None) -> Iterator[OsUser]:
    """A new login `<stem><pid>` with its home under `base` (which others may enter), a
    session bus and a key store of its own."""
    need(os.geteuid() == 0 and shutil.which("useradd") is not None, "needs root and useradd")
    need(Path(SYSTEM_PYTHON).exists(), "needs the system's python3")
    login = f"{stem}{os.getpid() % 100000}"
    home = base / login
    home.mkdir(mode=0o700)
    subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell",
                    "/usr/sbin/nologin", login], check=True, capture_output=True)  # fmt: skip
    user = OsUser(login, home, {})
    try:
        shutil.chown(home, login, login)
        run = home / "run"
        run.mkdir(mode=0o700)
        shutil.chown(run, login, login)
        user.env = {"HOME": str(home), "USER": login, "LOGNAME": login, "LANG": "C.UTF-8",
                    "XDG_RUNTIME_DIR": str(run), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "PYTHONPATH": f"{ROOT}:{_packages()}", **(extra_env or {})}  # fmt: skip
        _let_others_read(ROOT, Path(_packages()))
        probe = user.run(SYSTEM_PYTHON, "-c", "import agentapp, PySide6, keyring")
        assert probe.returncode == 0, f"{login} cannot run agentapp: {probe.stderr[-400:]}"
        bus = user.run("dbus-daemon", "--session", "--fork", "--print-address=1",
                       "--print-pid=1")  # fmt: skip
        assert bus.returncode == 0, bus.stderr
        address, pid = bus.stdout.split()
        user.pids.append(int(pid))
        user.env["DBUS_SESSION_BUS_ADDRESS"] = address
        keyrings = home / "keyrings"
        daemon = subprocess.Popen(
            user.argv("env", f"XDG_DATA_HOME={keyrings}", "gnome-keyring-daemon", "--foreground",
                      "--unlock", "--components=secrets"),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        user.pids.insert(0, daemon.pid)
        assert daemon.stdin is not None
        daemon.stdin.write(b"agentapp-session")
        daemon.stdin.close()
        wait_for_keyring(lambda argv: user.run(*argv, timeout=10).stdout, f"{login}'s")
        yield user
    finally:
        for pid in user.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        for pid in user.pids:  # the keyring (our child) reaped; the forked bus waited for
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        break
                except ChildProcessError:
                    pass
                time.sleep(0.05)
        subprocess.run(["pkill", "-KILL", "-u", login], check=False, capture_output=True)
        subprocess.run(["userdel", login], check=False, capture_output=True)
        print(f"(removed the test login {login})", file=sys.stderr)
