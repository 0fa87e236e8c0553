"""Every test runs with its own empty machine-wide settings folder, so that a machine where
agentapp is installed (`/etc/agentapp`) cannot change what a test sees. The installer tests
give the installed package's processes the real one."""

import atexit
import logging
import os
import shutil
import tempfile

import pytest

_SYSTEM = tempfile.mkdtemp(prefix="agentapp-sys-")
atexit.register(shutil.rmtree, _SYSTEM, True)  # one per test run, removed when it ends
os.environ["AGENTAPP_SYSTEM_DIR"] = os.path.join(_SYSTEM, "none")
os.environ["AGENTAPP_LANG"] = "en"  # the programs tests start speak English; a test asks for French


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
