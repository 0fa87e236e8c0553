"""Every test runs with its own empty machine-wide settings folder, so that a machine where
agentapp is installed (`/etc/agentapp`) cannot change what a test sees. The installer tests
give the installed package's processes the real one."""

import atexit
import os
import shutil
import tempfile

_SYSTEM = tempfile.mkdtemp(prefix="agentapp-sys-")
atexit.register(shutil.rmtree, _SYSTEM, True)  # one per test run, removed when it ends
os.environ["AGENTAPP_SYSTEM_DIR"] = os.path.join(_SYSTEM, "none")
