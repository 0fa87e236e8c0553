"""The agent's side of its GNOME Shell extension (resources/gnome-shell/): the windows, the
lock state, the secure-pause key and the top-bar indicator, over the session bus.

What the extension sends is read as a stranger's input: its size is capped, every field is
checked for type and range, and a window that does not parse is left out (never guessed).

Threading: a `DeskClient` is used by one thread (its connection is its own).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule, MessageType, message_bus, new_method_call
from jeepney.io.blocking import DBusConnection, Proxy, open_dbus_connection

from agentapp.core.geometry import Rect

BUS_NAME = "org.agentapp.Desk"
PATH = "/org/agentapp/Desk"
INTERFACE = "org.agentapp.Desk1"
EXTENSION_UUID = "agentapp-desk@agentapp"
SHELL_VERSIONS = ("43", "44")  # as the extension's metadata.json declares
MAX_ANSWER = 1 << 20  # a desk with a thousand windows answers in about 400 kB
MAX_WINDOWS = 2000
CALL_TIMEOUT_S = 1.0
_INT32 = 2**31


class DeskUnavailable(RuntimeError):
    """The extension does not answer here, or refuses this process (message says which)."""


@dataclass(frozen=True, slots=True)
class ShellWindow:
    id: int
    title: str
    wm_class: str
    wm_instance: str
    app_id: str
    pid: int | None
    identity: int  # counts the changes of its title, class or app id (the extension's count)
    frame: Rect
    buffer: Rect
    focus: bool
    minimized: bool
    shown: bool
    normal: bool
    fullscreen: bool


@dataclass(frozen=True, slots=True)
class DeskState:
    serial: int
    locked: bool
    indicator: str  # what the top bar's indicator shows ("" when hidden)
    windows: tuple[ShellWindow, ...]  # bottom to top


def _rect(v: Any) -> Rect | None:
    if not (isinstance(v, list) and len(v) == 4 and all(type(n) is int for n in v)):
        return None
    x, y, w, h = v
    if not all(-_INT32 < n < _INT32 for n in v) or w < 0 or h < 0:
        return None
    return Rect(x, y, w, h)


def _text(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key, "")
    return v[:200] if isinstance(v, str) else None


def parse_window(d: Any) -> ShellWindow | None:
    """One window of the extension's answer, or None when any field is not what it must be."""
    if not isinstance(d, dict):
        return None
    wid, pid, identity = d.get("id"), d.get("pid"), d.get("identity")
    frame, buffer = _rect(d.get("frame")), _rect(d.get("buffer"))
    texts = [_text(d, k) for k in ("title", "wm_class", "wm_instance", "app_id")]
    flags = [d.get(k) for k in ("focus", "minimized", "shown", "normal", "fullscreen")]
    if (
        type(wid) is not int
        or not 0 < wid < 2**63
        or type(pid) is not int
        or type(identity) is not int
        or not 0 <= identity < 2**53
        or frame is None
        or buffer is None
        or any(t is None for t in texts)
        or any(type(f) is not bool for f in flags)
    ):
        return None
    title, wm_class, wm_instance, app_id = (t or "" for t in texts)
    return ShellWindow(wid, title, wm_class, wm_instance, app_id, pid if 0 < pid < _INT32 else None,
                       identity, frame, buffer, *flags)  # type: ignore[arg-type]  # fmt: skip


def parse_state(raw: str) -> DeskState:
    """The extension's whole answer; raises ValueError when it is not one."""
    if len(raw) > MAX_ANSWER:
        raise ValueError("the desk extension's answer is too large")
    d = json.loads(raw)
    if not isinstance(d, dict) or type(d.get("serial")) is not int:
        raise ValueError("the desk extension's answer is not its format")
    if type(d.get("locked")) is not bool:
        raise ValueError("the desk extension's answer is not its format")
    listed = d.get("windows")
    if not isinstance(listed, list) or len(listed) > MAX_WINDOWS:
        raise ValueError("the desk extension's window list is not its format")
    windows = tuple(w for w in (parse_window(x) for x in listed) if w is not None)
    indicator = _text(d, "indicator")
    if indicator is None:
        raise ValueError("the desk extension's indicator is not its format")
    return DeskState(d["serial"], d["locked"], indicator, windows)


class DeskClient:
    """A session-bus connection to the extension; `changed()` says whether it signalled."""

    def __init__(self) -> None:
        try:
            self._conn: DBusConnection = open_dbus_connection("SESSION")
        except (OSError, KeyError, ValueError) as exc:
            raise DeskUnavailable(f"no session bus ({exc})") from None
        self._addr = DBusAddress(PATH, bus_name=BUS_NAME, interface=INTERFACE)
        rule = MatchRule(type="signal", interface=INTERFACE, path=PATH)
        self._signals = self._conn.filter(rule, bufsize=256)
        self._queue = self._signals.__enter__()
        try:
            Proxy(message_bus, self._conn, timeout=CALL_TIMEOUT_S).AddMatch(rule)
            self.state()  # asks once: the extension then sends its signals here
        except BaseException:
            self.close()
            raise

    def _call(self, method: str, signature: str | None = None, *args: Any) -> tuple[Any, ...]:
        msg = new_method_call(self._addr, method, signature, args)
        try:
            reply = self._conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT_S)
        except (TimeoutError, OSError) as exc:
            raise DeskUnavailable(f"the desk extension did not answer ({exc})") from None
        if reply.header.message_type is MessageType.error:
            name = str(reply.header.fields.get(HeaderFields.error_name, ""))
            raise DeskUnavailable(_why(name))
        return tuple(reply.body)

    def state(self) -> DeskState:
        (raw,) = self._call("Windows")
        if not isinstance(raw, str):
            raise DeskUnavailable("the desk extension's answer is not its format")
        try:
            return parse_state(raw)
        except ValueError as exc:
            raise DeskUnavailable(str(exc)) from None

    def indicate(self, text: str) -> None:
        self._call("Indicate", "s", text[:200])

    def set_pause_key(self, accelerator: str) -> bool:
        (bound,) = self._call("SetPauseKey", "s", accelerator)
        return bool(bound)

    def pending(self) -> list[str]:
        """The names of the signals that came since the last call (never waits)."""
        while True:
            try:
                self._conn.recv_messages(timeout=0)
            except TimeoutError:
                break
            except OSError:
                raise DeskUnavailable("the session bus went away") from None
        names = [str(m.header.fields.get(HeaderFields.member, "")) for m in self._queue]
        self._queue.clear()
        return names

    def fileno(self) -> int:
        return self._conn.sock.fileno()

    def close(self) -> None:
        try:
            self._signals.__exit__(None, None, None)
        finally:
            self._conn.close()


def _why(error_name: str) -> str:
    if error_name.endswith("AccessDenied"):
        return "the desk extension refuses this program (it answers the installed agent only)"
    if error_name.endswith(("ServiceUnknown", "NameHasNoOwner", "UnknownObject", "UnknownMethod")):
        return "the agentapp desk extension is not running in this GNOME session"
    return f"the desk extension failed ({error_name or 'no reason given'})"
