"""The `agentapp` command. Hooks take a fast path that imports almost nothing (softphones run
them on every call and may wait for them); everything else goes to the full CLI."""

from __future__ import annotations

import sys


def main() -> int:
    from agentapp.telephony.hookcli import fast_path, invocation_time

    argv = sys.argv[1:]
    code = fast_path(argv, invocation_time())
    if code is not None:
        return code
    from agentapp.cli import main as cli_main

    return cli_main(argv)
