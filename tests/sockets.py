"""Talking to the hook socket the way a broken or hostile client would."""

from __future__ import annotations

import socket
from pathlib import Path


def send_raw(path: Path, payload: bytes) -> str:
    """Send bytes as they are, close the write side, return the server's reply."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(5)
    try:
        c.connect(str(path))
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        return c.recv(4096).decode()
    finally:
        c.close()
