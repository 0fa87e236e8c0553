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


# The modules that take longest (building the wheel, real browsers, several agents at once)
# are handed out first when the suite runs on several workers (scripts/test.sh): started last,
# one of them would set the suite's end alone.
LONGEST_FIRST = ("test_python_package.py", "test_browser_pages_x11.py", "test_site_x11.py",
                 "test_hub_x11.py")  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # (stable: each module keeps its own order)
