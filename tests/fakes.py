"""Fakes that subclass the real interfaces and record what happened (unit level only)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from agentapp.core.auditchain import Head
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
    `lag` seconds before `state` is asked (a slow browser's last look is older)."""

    def __init__(self, url: str | None = "https://crm.example/customer/42") -> None:
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
            return PageState(self._page, self._why, self._serial, time.time() - self.lag)


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
