"""The `agentapp` command. Hooks take a fast path that imports almost nothing (softphones run
them on every call and may wait for them); everything else goes to the full CLI."""

from __future__ import annotations

import sys


def main() -> int:
    from agentapp.hookcli import invocation_time

    started = invocation_time()
    argv = sys.argv[1:]
    if argv and argv[0] in ("hook", "control") and "-h" not in argv and "--help" not in argv:
        from agentapp.hookcli import main as hook_main

        return hook_main(argv, started)
    from agentapp.cli import main as cli_main

    return cli_main(argv)
