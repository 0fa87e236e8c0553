"""The page a browser window shows, read from the accessibility bus (AT-SPI 2 over D-Bus).

Browsers publish their pages' accessibility trees on the session's accessibility bus:
Firefox when accessibility is on in the session (`GNOME_ACCESSIBILITY=1`, or a screen
reader's setting), Chromium-based browsers when it is and they are started with
`--force-renderer-accessibility` (Chromium 156.0.8078.114 needs both). In that tree,
the application whose D-Bus connection belongs to the window's process has one frame per
browser window, named as the window is titled; each frame holds the documents it shows
(role "document web", state "showing"), whose `URI` attribute is the page's address, and
the page's input fields (roles entry, password text, spin button, combo box) with their
accessible names (the label a person reads: "Numéro de carte"). A document's address is its
`URI` attribute in Chromium, `DocURL` in Firefox (measured: Chromium 156, Firefox ESR 153).

D-Bus is spoken with jeepney (pure Python, already under keyring); libatspi is not needed.

Threading: `AtspiPages` looks from its own thread, every `interval` seconds and at once
after `follow`; each D-Bus call is bounded by CALL_TIMEOUT_S, so a browser that hangs gives
"the browser does not answer" (no frame), never a stuck capture thread. `follow` and
`state` take a lock only.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from jeepney import DBusAddress, MessageType, Properties, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from agentapp.core.clock import Clock
from agentapp.core.policy import Page
from agentapp.platform.base import PageState, PageWatcher, WindowInfo

POLL_S = 0.1  # a tab switch shows in the tree within ~80 ms (Chromium, measured)
CALL_TIMEOUT_S = 0.5
MAX_MATCHES = 256  # fields or documents listed per look (a form rarely has more)
MAX_DEPTH = 32  # ancestors looked at above a document's internal frame

ACCESSIBLE = "org.a11y.atspi.Accessible"
COLLECTION = "org.a11y.atspi.Collection"
DOCUMENT = "org.a11y.atspi.Document"
REGISTRY = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")

ROLE_COMBO_BOX, ROLE_FRAME, ROLE_INTERNAL_FRAME, ROLE_PASSWORD_TEXT = 11, 23, 28, 40
ROLE_APPLICATION = 75
ROLE_SPIN_BUTTON, ROLE_ENTRY, ROLE_DOCUMENT_WEB = 52, 79, 95
STATE_SHOWING = 25
MATCH_ALL, MATCH_ANY = 1, 2
SORT_CANONICAL = 1  # 0 ("invalid") makes GetMatches return nothing
FIELD_ROLES = (ROLE_ENTRY, ROLE_PASSWORD_TEXT, ROLE_SPIN_BUTTON, ROLE_COMBO_BOX)

NOT_RUNNING = "the browser's accessibility bus is not running, so the page shown cannot be checked"
NOT_EXPOSED = (
    "the browser does not say which page it shows (its accessibility support is off: "
    "ask IT to turn accessibility on for it)"
)
NO_ANSWER = "the browser does not answer, so the page shown cannot be checked"
AMBIGUOUS = "two browser windows have this title and show different pages"
NOT_YET = "checking which page the browser shows"


class PageUnknown(Exception):
    """The page cannot be told; the message says why, for the trainee."""


Ref = tuple[str, str]  # (bus name, object path) of an accessible


@dataclass(frozen=True, slots=True)
class _Target:
    pid: int | None
    title: str | None
    fields: bool


def _signed(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


def _bits(values: tuple[int, ...], words: int) -> list[int]:
    out = [0] * words
    for v in values:
        out[v // 32] |= 1 << (v % 32)
    return [_signed(w) for w in out]


def _rule(roles: tuple[int, ...]) -> tuple[Any, ...]:
    """An AT-SPI match rule: showing, of any of these roles."""
    return (
        _bits((STATE_SHOWING,), 2), MATCH_ALL, {}, MATCH_ALL,
        _bits(roles, 4), MATCH_ANY, [], MATCH_ALL, False,
    )  # fmt: skip


class AtspiBus:
    """One connection to the accessibility bus; every call bounded; errors are `PageUnknown`."""

    def __init__(self, address: str | None = None) -> None:
        self._conn: DBusConnection = open_dbus_connection(address or bus_address())
        self._pids: dict[str, int] = {}

    def close(self) -> None:
        self._conn.close()

    def _send(self, msg: Any) -> tuple[Any, ...]:
        try:
            reply = self._conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT_S)
        except TimeoutError:
            raise PageUnknown(NO_ANSWER) from None
        if reply.header.message_type is MessageType.error:
            raise PageUnknown(NOT_EXPOSED)
        return tuple(reply.body)

    def _call(self, ref: Ref, iface: str, method: str, sig: str | None = None,
              body: tuple[Any, ...] = ()) -> tuple[Any, ...]:  # fmt: skip
        return self._send(new_method_call(DBusAddress(ref[1], ref[0], iface), method, sig, body))

    def _prop(self, ref: Ref, name: str) -> Any:
        return self._send(Properties(DBusAddress(ref[1], ref[0], ACCESSIBLE)).get(name))[0][1]

    def applications(self, pid: int) -> list[Ref]:
        """The accessible applications whose bus connection belongs to process `pid`."""
        out = []
        for bus, path in self._call(REGISTRY, ACCESSIBLE, "GetChildren")[0]:
            if bus not in self._pids:
                dbus = ("org.freedesktop.DBus", "/org/freedesktop/DBus")
                self._pids[bus] = self._call(
                    dbus, "org.freedesktop.DBus", "GetConnectionUnixProcessID", "s", (bus,)
                )[0]
            if self._pids[bus] == pid:
                out.append((bus, path))
        return out

    def children(self, ref: Ref) -> list[Ref]:
        return [(b, p) for b, p in self._call(ref, ACCESSIBLE, "GetChildren")[0]]

    def name(self, ref: Ref) -> str:
        return str(self._prop(ref, "Name"))

    def role(self, ref: Ref) -> int:
        return int(self._call(ref, ACCESSIBLE, "GetRole")[0])

    def parent(self, ref: Ref) -> Ref:
        bus, path = self._prop(ref, "Parent")
        return (bus, path)

    def matches(self, ref: Ref, roles: tuple[int, ...]) -> list[Ref]:
        """Showing descendants of these roles, in tree order (one call, searched in the app)."""
        found = self._call(ref, COLLECTION, "GetMatches", "(aiia{ss}iaiiasib)uib",
                           (_rule(roles), SORT_CANONICAL, MAX_MATCHES, True))[0]  # fmt: skip
        return [(b, p) for b, p in found]

    def inner(self, doc: Ref, frame: Ref) -> bool:
        """Whether a document is an inner frame's, i.e. inside another document. Chromium
        puts a tab's document right under its window's tree, Firefox under an internal frame
        of its own (the tab's browser element), so an internal frame above a document says
        nothing until a document is found above it too (or the window, or no end in sight:
        then it counts as inner, and a page with no top document cannot be told)."""
        ref = self.parent(doc)
        if self.role(ref) != ROLE_INTERNAL_FRAME:
            return False
        for _ in range(MAX_DEPTH):
            ref = self.parent(ref)
            if ref == frame:
                return False
            role = self.role(ref)
            if role == ROLE_DOCUMENT_WEB:
                return True
            if role in (ROLE_FRAME, ROLE_APPLICATION):
                return False
        return True

    def uri(self, doc: Ref) -> str:
        """The document's address: Chromium names it `URI`, Firefox `DocURL` (its `URI` is
        empty); no address at all is a page that cannot be told."""
        attrs = self._call(doc, DOCUMENT, "GetAttributes")[0]
        url = attrs.get("URI") or attrs.get("DocURL")
        if not url:
            raise PageUnknown(NOT_EXPOSED)
        return str(url)

    def page(self, frame: Ref, fields: bool) -> Page:
        """What one browser frame shows."""
        urls: list[str] = []
        inner: list[str] = []
        docs = self.matches(frame, (ROLE_DOCUMENT_WEB,))
        for doc in docs:
            (inner if self.inner(doc, frame) else urls).append(self.uri(doc))
        if not urls:
            raise PageUnknown(NOT_EXPOSED)
        names: dict[Ref, str] = {}
        if fields:
            for doc in docs:
                for f in self.matches(doc, FIELD_ROLES):
                    if f not in names:
                        names[f] = self.name(f)
        return Page(tuple(urls), tuple(inner), tuple(dict.fromkeys(names.values())))

    def look(self, target: _Target) -> Page:
        """The page the window titled `target.title` of process `target.pid` shows."""
        if target.pid is None or target.title is None:
            raise PageUnknown(NOT_EXPOSED)
        apps = self.applications(target.pid)
        if not apps:
            raise PageUnknown(NOT_EXPOSED)
        pages = set()
        for app in apps:
            for frame in self.children(app):
                if self.name(frame) == target.title:
                    pages.add(self.page(frame, target.fields))
        if not pages:  # its new title has not reached the tree yet
            raise PageUnknown(NOT_YET)
        if len(pages) > 1:
            raise PageUnknown(AMBIGUOUS)
        return pages.pop()


def bus_address() -> str:
    """The accessibility bus: AT_SPI_BUS_ADDRESS, else asked of the session bus."""
    if os.environ.get("AT_SPI_BUS_ADDRESS"):
        return os.environ["AT_SPI_BUS_ADDRESS"]
    try:
        with open_dbus_connection("SESSION") as session:
            msg = new_method_call(
                DBusAddress("/org/a11y/bus", "org.a11y.Bus", "org.a11y.Bus"), "GetAddress"
            )
            reply = session.send_and_get_reply(msg, timeout=2 * CALL_TIMEOUT_S)
    except (OSError, KeyError, ValueError, TimeoutError):
        raise PageUnknown(NOT_RUNNING) from None
    if reply.header.message_type is MessageType.error or not reply.body[0]:
        raise PageUnknown(NOT_RUNNING)
    return str(reply.body[0])


class AtspiPages(PageWatcher):
    """Follows one window's page from a thread of its own (see the module's docstring)."""

    def __init__(self, clock: Clock, interval: float = POLL_S) -> None:
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._target: _Target | None = None
        self._state = PageState(None, "looking at the page shown")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.looks = 0  # looks made (tests, bench)
        self._thread = threading.Thread(target=self._run, name="pages", daemon=True)
        self._thread.start()

    def follow(self, window: WindowInfo | None, fields: bool) -> None:
        target = None if window is None else _Target(window.pid, window.title, fields)
        with self._lock:
            if target == self._target:
                return
            self._target = target
        self._wake.set()

    def state(self) -> PageState:
        with self._lock:
            return self._state

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=2 * CALL_TIMEOUT_S + 1)

    def _publish(self, page: Page | None, why: str, started: float) -> None:
        with self._lock:
            old = self._state
            serial = old.serial + (page != old.page or why != old.why)
            self._state = PageState(page, why, serial, started)

    def _run(self) -> None:
        bus: AtspiBus | None = None
        while not self._stop.is_set():
            with self._lock:
                target = self._target
            if target is not None:
                started = self._clock.now()
                try:
                    bus = bus or AtspiBus()
                    self._publish(bus.look(target), "", started)
                except PageUnknown as exc:
                    self._publish(None, str(exc), started)
                except (OSError, ValueError, KeyError) as exc:  # the bus went away
                    self._publish(None, f"{NOT_RUNNING} ({exc})", started)
                    if bus is not None:
                        bus.close()
                    bus = None
                self.looks += 1
            self._wake.wait(self._interval)
            self._wake.clear()
        if bus is not None:
            bus.close()


def look_once(window: WindowInfo, fields: bool) -> Page:
    """One look at the window's page from the calling thread (doctor); PageUnknown says why
    it cannot be read."""
    bus = AtspiBus()
    try:
        return bus.look(_Target(window.pid, window.title, fields))
    finally:
        bus.close()
