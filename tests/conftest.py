"""Every test runs with its own empty machine-wide settings folder, so that a machine where
agentapp is installed (`/etc/agentapp`) cannot change what a test sees. The installer tests
give the installed package's processes the real one."""

import os
import tempfile

os.environ["AGENTAPP_SYSTEM_DIR"] = os.path.join(tempfile.mkdtemp(prefix="agentapp-sys-"), "none")
