"""The `agentapp` command line: cli/main.py parses and dispatches; each command group
registers its own sub-commands (agent.py: the agent's own; site.py: keys, policies,
enrolments, console; review.py: recordings, notes, audit, purge, compliance documents).
Hooks never come here first: telephony/hookcli.py answers them before any of this loads."""

from agentapp.cli.base import CliError, read_passphrase
from agentapp.cli.main import main

__all__ = ["CliError", "main", "read_passphrase"]
