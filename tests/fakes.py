"""Fakes that subclass the real interfaces and record what happened (unit level only)."""

from __future__ import annotations

import math
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agentapp.core.auditchain import Head
from agentapp.core.clock import Clock, SystemClock
from agentapp.core.geometry import Rect
from agentapp.core.policy import Page, WindowRule
from agentapp.platform.base import (
    Changes,
    PageState,
    PageWatcher,
    WindowInfo,
    WindowLocator,
    WindowView,
)


class FakeLocator(WindowLocator):
    """One business window; tests flip `visible`, `rect` and `occluders` at will."""

    def __init__(self) -> None:
        self.visible = True
        self.present = True
        self.rect = Rect(0, 0, 64, 48)
        self.occluders: tuple[Rect, ...] = ()
        self.lock = threading.Lock()
        self.closed = False
        self.others: list[WindowInfo] = []  # other windows, e.g. a sensitive payment page
        self.shown: set[int] = set()  # which of `others` are visible
        self._title = "CRM"
        self.identity = 0  # bumped by every title change, as X property events would
        self.wm_class = "agentapp-business"
        self.locked_why: str | None = None  # what X would show of a screen lock
        # a window that draws nothing: no damage, and nothing happens between two looks
        # (`quiet`), as with X events; a lock by keyboard grab still changes `locked_why`
        self.static = False
        # a descriptor to wait on for "news" (X's socket): the capture loop may then skip an
        # interval after a quiet tick; write to `news[1]` to wake it as an event would
        self.news: tuple[socket.socket, socket.socket] | None = None

    def show_other(self, wm_class: str, title: str = "other") -> WindowInfo:
        info = WindowInfo(100 + len(self.others), (wm_class,), None, title, 99)
        with self.lock:
            self.others.append(info)
            self.shown.add(info.handle)
        return info

    def hide_other(self, info: WindowInfo) -> None:
        with self.lock:
            self.shown.discard(info.handle)

    @property
    def title(self) -> str:
        """The business window's title now (a tab switch changes it)."""
        return self._title

    @title.setter
    def title(self, value: str) -> None:
        with self.lock:
            self._title = value
            self.identity += 1

    def identity_serial(self, window: WindowInfo) -> int:
        return self.identity

    def locked(self, window: WindowInfo) -> str | None:
        return self.locked_why

    def quiet(self) -> bool:
        return self.static

    def fileno(self) -> int | None:
        return self.news[0].fileno() if self.news is not None else None

    def take_changes(self, window: WindowInfo) -> Changes:
        return Changes(False if self.static else None)

    def _business(self) -> WindowInfo:
        return WindowInfo(1, (self.wm_class,), "crm", self.title, 42)

    def find(self, rules: tuple[WindowRule, ...]) -> tuple[WindowInfo, WindowRule] | None:
        if not self.present:
            return None
        info = self._business()
        for rule in rules:
            if rule.matches(info.wm_class, info.executable, info.title):
                return info, rule
        return None

    def describe(self, window: WindowInfo) -> WindowInfo | None:
        with self.lock:
            return self._business() if self.present and window.handle == 1 else None

    def view(self, window: WindowInfo) -> WindowView:
        with self.lock:
            if not self.visible:
                return WindowView(False, "business window minimised or hidden")
            return WindowView(True, rect=self.rect, occluders=self.occluders)

    def windows(self) -> list[WindowInfo]:
        with self.lock:
            return list(self.others)

    def is_visible(self, window: WindowInfo) -> bool:
        with self.lock:
            return window.handle in self.shown

    def close(self) -> None:
        self.closed = True  # (`news` is the test's to close)


class FakePages(PageWatcher):
    """The page the business window shows; tests set it with `show`. A look is stamped
    `lag` seconds before `state` is asked (a slow browser's last look is older), on
    `clock` (the engine's, given by its page factory; else the real one)."""

    def __init__(self, url: str | None = "https://crm.example/customer/42") -> None:
        self.clock: Clock = SystemClock()
        self.lock = threading.Lock()
        self.lag = 0.0
        self.followed: list[WindowInfo | None] = []
        self._page: Page | None = Page((url,)) if url else None
        self._why = "" if url else "the browser does not say which page it shows"
        self._serial = 0

    def show(self, url: str | None, fields: tuple[str, ...] = (), why: str = "") -> None:
        with self.lock:
            self._page = Page((url,), (), fields) if url else None
            self._why = why
            self._serial += 1

    def follow(self, window: WindowInfo | None, fields: bool) -> None:
        with self.lock:
            if not self.followed or self.followed[-1] != window:
                self.followed.append(window)

    def state(self) -> PageState:
        with self.lock:
            return PageState(self._page, self._why, self._serial, self.clock.now() - self.lag)


class FakeGrabber:
    """Returns a solid frame of the requested size; counts what it was asked to read.

    Unless `static`, a 4x4 block in the top-left corner changes at every grab (a blinking
    caret), so that every frame is encoded; a static window's frames are held instead."""

    def __init__(self, color: tuple[int, int, int] = (40, 160, 60), static: bool = False) -> None:
        self.color = color
        self.static = static
        self.rects: list[Rect] = []

    def grab(self, rect: Rect) -> np.ndarray:
        self.rects.append(rect)
        frame = np.empty((rect.h, rect.w, 4), np.uint8)
        frame[:] = (*self.color, 255)
        if not self.static:
            frame[:4, :4, :3] = len(self.rects) % 256
        return frame

    def close(self) -> None:
        pass


class MemoryAuditKeys:
    """The audit trail's key and head in memory instead of the OS key store (unit level)."""

    def __init__(self) -> None:
        self._key = b"k" * 32
        self.stored: Head | None = None

    def key(self, create: bool = True) -> bytes:
        return self._key

    def head(self) -> Head | None:
        return self.stored

    def set_head(self, head: Head) -> None:
        self.stored = head


def site_trail_entries(site: Path) -> list[dict[str, Any]]:
    """Every reviewer's trail at a site (<site>/audit/*.jsonl), merged in time order."""
    from agentapp.vault.audit import AuditLog

    logs = [AuditLog(p) for p in sorted((site / "audit").glob("*.jsonl"))]
    return sorted((e for log in logs for e in log.entries()), key=lambda e: str(e["at"]))


@dataclass
class _Waiter:
    deadline: float
    fds: list[int]
    poke: socket.socket
    woken: bool = False


class SimClock:
    """Virtual time for the engine tests (the clock gives the waits: core/clock.py). It moves
    only in `run`, from one waiting thread's deadline to the next, and only once every thread
    started since the clock was made is waiting in `wait` with nothing to read (or has
    ended): each step happens as it would in real time, as fast as the work in it allows.

    A thread that does not come back to `wait` within SETTLE_S (blocked elsewhere) fails the
    test by name, rather than letting time run past it."""

    SETTLE_S = 10.0

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()
        self._waiters: dict[int, _Waiter] = {}
        self._before = {t.ident for t in threading.enumerate()}
        self._local = threading.local()

    def now(self) -> float:
        with self._lock:
            return self._now

    def wait(self, fds: Sequence[int], timeout: float) -> list[int]:
        pair = getattr(self._local, "pair", None)
        if pair is None:
            pair = self._local.pair = socket.socketpair()
            pair[0].setblocking(False)
        r, w = pair
        ident = threading.get_ident()
        with self._lock:
            me = _Waiter(self._now + max(timeout, 0.0), list(fds), w)
            self._waiters[ident] = me
        try:
            while True:
                ready = select.select([*fds, r.fileno()], [], [])[0]
                with self._lock:
                    try:
                        while r.recv(64):
                            pass
                    except OSError:
                        pass
                    me.woken = False
                    mine = [f for f in ready if f != r.fileno()]
                    if mine:
                        return mine
                    if self._now >= me.deadline:
                        return []
        finally:
            with self._lock:
                del self._waiters[ident]

    def run(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass, every wait due in them served in order."""
        target = self.now() + seconds
        while True:
            self._settle()
            with self._lock:
                due = min((w.deadline for w in self._waiters.values()), default=math.inf)
                if due > target:
                    self._now = max(self._now, target)
                    return
                self._now = max(self._now, due)
                for w in self._waiters.values():
                    if w.deadline <= self._now and not w.woken:
                        w.woken = True
                        w.poke.send(b"\0")

    def jump(self, seconds: float) -> None:
        """Move on by `seconds` at once (minutes after a call): each wait due in them is
        served once, at the end, as after a machine's sleep."""
        with self._lock:
            self._now += seconds
        self.run(0.0)

    def busy(self, seconds: float) -> None:
        """`seconds` pass while the calling thread is busy elsewhere (a slow remote call):
        no wait is served until the next `run`."""
        with self._lock:
            self._now += seconds

    def run_until(self, done: Callable[[], bool], limit: float = 60.0, step: float = 0.05) -> None:
        """Run until `done()` (checked every `step` of virtual time); AssertionError after
        `limit` virtual seconds."""
        end = self.now() + limit
        while not done():
            assert self.now() < end, f"not done after {limit} s of virtual time"
            self.run(step)

    def _settle(self) -> None:
        limit = time.monotonic() + self.SETTLE_S
        me = threading.current_thread()
        while True:
            with self._lock:
                busy = [t for t in threading.enumerate()
                        if t.ident not in self._before and t is not me and t.is_alive()
                        and ((w := self._waiters.get(t.ident or 0)) is None
                             or w.woken)]  # fmt: skip
                fds = [f for w in self._waiters.values() for f in w.fds]
            if not busy and not (fds and select.select(fds, [], [], 0)[0]):
                return
            assert time.monotonic() < limit, f"threads not back to a clock wait: {busy}"
            time.sleep(0.0005)
