"""The systemd journal, through its native socket (datagrams of KEY=value fields: no daemon
of ours, no library): where IT reads a Linux desk's logs (`journalctl -t agentapp`).

Threading: `JournalHandler.emit` runs on any thread under logging's handler lock. Sends never
block: a journal that does not keep up (or is restarting) gets nothing, and the record goes
to the fallback handler (the log file) instead, so a slow journald cannot delay capture.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import traceback
from pathlib import Path

SOCKET = Path("/run/systemd/journal/socket")
IDENTIFIER = "agentapp"
PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6,
            logging.DEBUG: 7}  # fmt: skip


def socket_path() -> Path:
    """The journal's socket (AGENTAPP_JOURNAL_SOCKET: a journal namespace's, e.g.
    /run/systemd/journal.<namespace>/socket)."""
    return Path(os.environ.get("AGENTAPP_JOURNAL_SOCKET") or SOCKET)


def connect() -> socket.socket | None:
    """A non-blocking datagram socket connected to the journal, or None when there is none
    (no systemd, a container, Windows)."""
    if not hasattr(socket, "AF_UNIX"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.connect(str(socket_path()))
        sock.setblocking(False)
    except OSError:
        sock.close()
        return None
    return sock


def _field(name: str, value: str) -> bytes:
    data = value.encode("utf-8", "replace")
    if b"\n" not in data:
        return name.encode() + b"=" + data + b"\n"
    # the journal's binary-safe form, for a value that spans lines (a traceback)
    return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"


def one_line(text: str) -> str:
    """A message as one line: the journal (like the file) holds one line per event."""
    return " | ".join(part for part in text.splitlines() if part.strip()) or text


class JournalHandler(logging.Handler):
    """Each record as one journal entry: MESSAGE (one line), PRIORITY, SYSLOG_IDENTIFIER,
    the logger, where in the code, and a traceback as a field of its own. The messages are
    the log's (call hashes, never names of callers or what a window showed)."""

    def __init__(self, sock: socket.socket, fallback: logging.Handler, version: str) -> None:
        super().__init__()
        self._sock = sock
        self._fallback = fallback
        self._version = version
        self.sent = self.fell_back = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = [
                _field("MESSAGE", one_line(record.getMessage())),
                _field("PRIORITY", str(PRIORITY.get(record.levelno, 6))),
                _field("SYSLOG_IDENTIFIER", IDENTIFIER),
                _field("AGENTAPP_LOGGER", record.name),
                _field("AGENTAPP_VERSION", self._version),
                _field("CODE_FILE", record.pathname),
                _field("CODE_LINE", str(record.lineno)),
                _field("CODE_FUNC", record.funcName),
                _field("THREAD_NAME", record.threadName or ""),
            ]
            if record.exc_info:
                fields.append(_field("TRACEBACK", "".join(traceback.format_exception(
                    *record.exc_info)).rstrip()))  # fmt: skip
            self._sock.send(b"".join(fields))
            self.sent += 1
        except (OSError, ValueError):  # full, gone, too large: the file has it instead
            self.fell_back += 1
            self._fallback.handle(record)

    def close(self) -> None:
        try:
            self._sock.close()
        finally:
            self._fallback.close()
            super().close()
