"""Every test runs with its own empty machine-wide settings folder, so that a machine where
agentapp is installed (`/etc/agentapp`) cannot change what a test sees. The installer tests
give the installed package's processes the real one."""

import atexit
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable

import pytest

_SYSTEM = tempfile.mkdtemp(prefix="agentapp-sys-")
atexit.register(shutil.rmtree, _SYSTEM, True)  # one per test run, removed when it ends
os.environ["AGENTAPP_SYSTEM_DIR"] = os.path.join(_SYSTEM, "none")
os.environ["AGENTAPP_LANG"] = "en"  # the programs tests start speak English; a test asks for French

_WORKER_PIDS: list[int] = []


def pytest_configure(config: pytest.Config) -> None:
    """Each parallel worker (pytest-xdist) gets a session bus and an unlocked gnome-keyring of
    its own, as scripts/with-keyring.sh gives the whole run: a test that replaces or stops the
    key store on its bus (the kiosk key store does, by design) then touches only its worker."""
    if os.environ.get("PYTEST_XDIST_WORKER") and shutil.which("dbus-daemon"):
        _own_key_store()


# The longest test modules (minutes each on 2 cores), started first: the parallel workers
# (each module whole on one worker) then end together, where alphabetical order left one
# worker with the package's build while the others had finished.
LONGEST_FIRST = (
    "test_package_deb.py",
    "test_capture_source_x11.py",
    "test_browser_pages_x11.py",
    "test_secure_pause_x11.py",
    "test_voice_x11.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # (stable: each module's own order is kept)


def pytest_unconfigure(config: pytest.Config) -> None:
    for pid in _WORKER_PIDS:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def _own_key_store() -> None:
    run = os.path.join(_SYSTEM, "run")  # gnome-keyring's control socket goes here, not shared
    os.makedirs(run, mode=0o700)
    r = subprocess.run(["dbus-daemon", "--session", "--fork", "--print-address=1",
                        "--print-pid=1"], capture_output=True, text=True, timeout=20,
                       check=True)  # fmt: skip
    address, pid = r.stdout.split()
    _WORKER_PIDS.append(int(pid))
    os.environ.update(DBUS_SESSION_BUS_ADDRESS=address, XDG_RUNTIME_DIR=run)
    env = dict(os.environ, XDG_DATA_HOME=os.path.join(_SYSTEM, "keyrings"))
    daemon = subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--unlock",
                               "--components=secrets"], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    _WORKER_PIDS.insert(0, daemon.pid)
    assert daemon.stdin is not None
    daemon.stdin.write(b"agentapp-session")
    daemon.stdin.close()
    # before any test asks (D-Bus would start an empty one)
    wait_for_keyring(lambda argv: subprocess.run(argv, capture_output=True, text=True,
                                                 timeout=10).stdout, "this worker's")  # fmt: skip


def wait_for_keyring(run: Callable[[list[str]], str], whose: str) -> None:
    """Until the session bus `run` (a command's output) reaches has gnome-keyring on it."""
    ask = ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/",
           "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"]  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if "boolean true" in run(ask):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{whose} gnome-keyring did not come up in 20 s")


@pytest.fixture(autouse=True)
def _english_unless_asked():  # type: ignore[no-untyped-def]
    """Every test starts in English whatever the machine's locale; a test of the French
    texts asks for them (agentapp.i18n.use)."""
    from agentapp import i18n

    i18n.use("en")
    yield
    i18n.use("en")


@pytest.fixture(autouse=True)
def _own_log_handlers():  # type: ignore[no-untyped-def]
    """A command run in-process (cli.main) points the root logger at this test's captured
    stderr; take its handlers away after the test (else a later thread's warning meets a
    closed stream: "--- Logging error ---"). pytest's own handlers come and go by phase."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for h in root.handlers[:]:
        if h not in before and not type(h).__module__.startswith("_pytest"):
            root.removeHandler(h)
            h.close()
    root.setLevel(level)
