"""PyInstaller's entry script: the bundle's `agentapp` is the same command as the package's."""

import sys

from agentapp.entry import main

sys.exit(main())
