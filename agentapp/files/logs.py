"""Where the agent's messages go: one line per message on the console for people; the full
record (tracebacks included) in the systemd journal when the desk has one, else in
`<data dir>/agent.log`, rotated (also the journal's fallback for a record it cannot take).

AGENTAPP_LOG=journal|file|auto (default auto: the journal when its socket answers)."""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from agentapp.files import layout


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


@dataclass(frozen=True, slots=True)
class LogPlace:
    """Where the log went: the journal (with the file as its fallback) or the file."""

    file: Path
    journal: Path | None = None

    def describe(self) -> str:
        if self.journal is None:
            return str(self.file)
        return f"the systemd journal (journalctl -t agentapp; {self.journal}), else {self.file}"


def _choice() -> str:
    return os.environ.get("AGENTAPP_LOG", "auto").strip().lower()


def _journal() -> socket.socket | None:
    """The journal's socket, connected, when the log goes there (AGENTAPP_LOG, a journal)."""
    if _choice() == "file" or not sys.platform.startswith("linux"):
        return None
    from agentapp.platform.journal import connect

    return connect()


def _place(data_dir: Path, sock: socket.socket | None) -> LogPlace:
    from agentapp.platform.journal import socket_path

    return LogPlace(layout.log_file(data_dir), socket_path() if sock is not None else None)


def log_place(data_dir: Path) -> LogPlace:
    """Where the agent started now would log (doctor's answer), by the same rule."""
    sock = _journal()
    if sock is not None:
        sock.close()
    return _place(data_dir, sock)


def setup_logging(data_dir: Path, verbose: bool = False) -> LogPlace:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    sock = _journal()
    place = _place(data_dir, sock)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    # (with the journal, the file is made only if a record falls back to it)
    file_handler = logging.handlers.RotatingFileHandler(
        place.file, maxBytes=2_000_000, backupCount=3, delay=sock is not None
    )
    file_handler.setFormatter(fmt)
    main: logging.Handler = file_handler
    if sock is not None:
        from agentapp import __version__
        from agentapp.platform.journal import JournalHandler

        main = JournalHandler(sock, file_handler, __version__)
    console = logging.StreamHandler()
    console.setFormatter(OneLineFormatter())
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [main, console]
    root.setLevel(logging.INFO)
    if _choice() == "journal" and sock is None:
        logging.getLogger(__name__).warning("no systemd journal here: logging to %s", place.file)
    return place
