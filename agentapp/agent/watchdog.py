"""The engine's watchdog: a thread that wakes only when something is due.

Between calls it looks at the policy and the notice again every REFRESH_EVERY_S; during a call
also at the disk every DISK_EVERY_S and at the call's maximum length at its deadline (a call's
start wakes it: `wake`).

Threading: its own daemon thread; the callbacks run on it and take the engine's lock
themselves. `wake` and `stop` may be called from any thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

from agentapp.core.clock import Clock
from agentapp.core.session import RecorderSession

REFRESH_EVERY_S = 5.0  # the policy file and the notice acknowledgements looked at again
DISK_EVERY_S = 1.0  # during a call: stop while there is still room to seal


class Watchdog:
    def __init__(
        self,
        clock: Clock,
        session: RecorderSession,
        active: Callable[[], bool],
        *,
        look_again: Callable[[], None],
        check_disk: Callable[[], None],
        overdue: Callable[[float], None],
    ) -> None:
        """`active`: a call is being recorded; `overdue(deadline)`: the call passed its
        maximum length (cut it at the deadline itself, whenever the watch woke)."""
        self._clock, self._session, self._active = clock, session, active
        self._look_again, self._check_disk, self._overdue = look_again, check_disk, overdue
        self._stop = threading.Event()
        self._r, self._w = socket.socketpair()  # wakes the watch (a clock wait)
        self._r.setblocking(False)
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self._w.send(b"\0")

    def stop(self) -> None:
        self._stop.set()
        self.wake()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _watch(self) -> None:
        now = self._clock.now()
        next_refresh, next_disk = now + REFRESH_EVERY_S, now + DISK_EVERY_S
        while not self._stop.is_set():
            active = self._active()
            due = [next_refresh]
            if active:
                deadline = self._session.info.deadline
                due += [next_disk] if deadline is None else [next_disk, deadline]
            if self._clock.wait([self._r.fileno()], min(due) - self._clock.now()):
                with contextlib.suppress(OSError):
                    self._r.recv(64)
                if self._stop.is_set():
                    return
            now = self._clock.now()
            if not active:
                next_disk = max(next_disk, now + DISK_EVERY_S)  # a call began: from its start
            if now >= next_refresh:  # pick up a policy edit or an acknowledgement
                next_refresh = now + REFRESH_EVERY_S
                self._look_again()
            if active and now >= next_disk:
                next_disk = now + DISK_EVERY_S
                self._check_disk()
            deadline = self._session.info.deadline
            if self._session.overdue() and deadline is not None:
                self._overdue(deadline)
