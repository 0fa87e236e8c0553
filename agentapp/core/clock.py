"""An injectable clock, so the core never reads the time by itself, and the threads that
pace themselves (the capture loop, the engine's watch) wait through it: a test's clock can
then run minutes of calls in the time their frames take to encode."""

from __future__ import annotations

import select
import time
from collections.abc import Sequence
from typing import Protocol


class Clock(Protocol):
    """Wall-clock seconds since the epoch, and waits measured on it. Thread-safe."""

    def now(self) -> float: ...

    def wait(self, fds: Sequence[int], timeout: float) -> list[int]:
        """Block until one of `fds` (sockets) can be read or `timeout` seconds have passed;
        the readable ones."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        return time.time()

    def wait(self, fds: Sequence[int], timeout: float) -> list[int]:
        if not fds:  # (Windows' select refuses empty lists)
            time.sleep(max(timeout, 0.0))
            return []
        return list(select.select(list(fds), [], [], max(timeout, 0.0))[0])


class FakeClock:
    """A clock that only moves when told to (single-threaded tests): a wait moves it."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._t = start

    def now(self) -> float:
        return self._t

    def wait(self, fds: Sequence[int], timeout: float) -> list[int]:
        self._t += max(timeout, 0.0)
        return []

    def advance(self, seconds: float) -> None:
        self._t += seconds

    def set(self, t: float) -> None:
        self._t = t
