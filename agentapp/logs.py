"""Where the agent's messages go: one line per message on the console for people, the
full record (tracebacks included) in `<data dir>/agent.log`, rotated."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from agentapp import layout


class OneLineFormatter(logging.Formatter):
    """Console lines for people: the message only, never a traceback (that goes to the file)."""

    def format(self, record: logging.LogRecord) -> str:
        return "agentapp: " + record.getMessage()


def console_logging() -> None:
    """Before a command sets up its own logging: warnings as one line on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter())
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [handler]


def setup_logging(data_dir: Path, verbose: bool = False) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = layout.log_file(data_dir)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3)
    file_handler.setFormatter(fmt)
    console = logging.StreamHandler()
    console.setFormatter(OneLineFormatter())
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [file_handler, console]
    root.setLevel(logging.INFO)
    return path
