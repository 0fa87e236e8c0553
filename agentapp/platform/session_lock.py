"""The desktop's own word that the session is locked or not on the screen:

* the screen-saver services' signals on the session bus (org.freedesktop.ScreenSaver and the
  GNOME, MATE, Xfce and Cinnamon ones: `ActiveChanged(bool)`, and `GetActive()` at start);
* logind on the system bus, for this process's session: `LockedHint` (set by lockers),
  the `Lock`/`Unlock` requests, and `Active` (false while another user's session is shown:
  a user switch); and for the machine: `PrepareForSleep` and `PrepareForShutdown` (true
  until the machine is back, or the shutdown is cancelled), so nothing is captured while
  the desk goes down — SIGTERM then seals what was captured.

What X itself shows of a lock is checked by the locator (X11Locator.locked); this adds the
desktops whose lockers X alone does not reveal.

Threading: `SessionLockWatcher` listens on two threads of its own (one per bus); `locked()`
and `close()` may be called from any thread and never wait on a bus.
"""

from __future__ import annotations

import os
import socket
import threading

from jeepney import (
    DBusAddress,
    HeaderFields,
    MatchRule,
    MessageFlag,
    MessageType,
    Properties,
    message_bus,
    new_method_call,
)
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from agentapp.platform.base import SessionLock

SERVICES = {
    "org.freedesktop.ScreenSaver": "/org/freedesktop/ScreenSaver",
    "org.gnome.ScreenSaver": "/org/gnome/ScreenSaver",
    "org.mate.ScreenSaver": "/org/mate/ScreenSaver",
    "org.xfce.ScreenSaver": "/org/xfce/ScreenSaver",
    "org.cinnamon.ScreenSaver": "/org/cinnamon/ScreenSaver",
}
LOCKED = "the session is locked"
SWITCHED = "another user's session is on the screen"
GOING_DOWN = {
    "PrepareForSleep": "the computer is going to sleep",
    "PrepareForShutdown": "the computer is shutting down",
}
LOGIN1 = "org.freedesktop.login1"
CALL_TIMEOUT_S = 0.5


class SessionLockWatcher(SessionLock):
    """Follows the screen-saver services of the session bus (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, bool] = {}  # per screen-saver interface, and "logind"
        self._switched = False
        self._going: dict[str, bool] = {}  # PrepareForSleep / PrepareForShutdown
        self._stop = threading.Event()
        self._conns: list[DBusConnection] = []  # open, for `close` to wake their threads
        self.ready = threading.Event()  # subscribed and asked (tests)
        self._threads = [
            threading.Thread(target=self._run, name="session-lock", daemon=True),
            threading.Thread(target=self._run_logind, name="logind", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def locked(self) -> str | None:
        with self._lock:
            going = [GOING_DOWN[m] for m, on in self._going.items() if on]
            if going:
                return going[0]
            if any(self._active.values()):
                return LOCKED
            return SWITCHED if self._switched else None

    def close(self) -> None:
        """Stop listening: each thread, blocked on its bus until a signal comes, is woken by
        its connection's shutdown (no thread wakes on a timer while nothing happens)."""
        with self._lock:
            self._stop.set()
            for conn in self._conns:
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in self._threads:
            t.join(timeout=2)

    def _open(self, bus: str) -> DBusConnection | None:
        """A connection to `bus` that `close` can wake, or None: stopping already (the
        exceptions of opening it are the caller's)."""
        conn = open_dbus_connection(bus)
        with self._lock:
            if not self._stop.is_set():
                self._conns.append(conn)
                return conn
        conn.close()
        return None

    def _set(self, iface: str, active: bool) -> None:
        with self._lock:
            self._active[iface] = active

    def _run(self) -> None:
        try:
            conn = self._open("SESSION")
        except (OSError, KeyError, ValueError):
            conn = None  # no session bus: nothing to hear (X checks remain)
        if conn is None:
            self.ready.set()
            return
        try:
            self._listen(conn)
        except (OSError, ValueError):
            pass  # the bus went away: what X shows is still checked
        finally:
            self.ready.set()
            conn.close()

    def _listen(self, conn: DBusConnection) -> None:
        rule = MatchRule(type="signal", member="ActiveChanged")
        conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT_S)
        with conn.filter(rule) as queue:
            for iface, path in SERVICES.items():  # a lock already on when the call started
                msg = new_method_call(DBusAddress(path, iface, iface), "GetActive")
                # only a screen saver that runs is asked: the bus must not start one (a desk
                # with GNOME installed but another desktop running would get gnome-shell's
                # stand-in service started at every call)
                msg.header.flags |= MessageFlag.no_auto_start
                try:
                    reply = conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT_S)
                except TimeoutError:
                    continue
                if reply.header.message_type is MessageType.method_return and reply.body:
                    self._set(iface, bool(reply.body[0]))
            self.ready.set()
            while not self._stop.is_set():
                signal = conn.recv_until_filtered(queue)  # (`close` shuts the socket)
                iface = signal.header.fields.get(HeaderFields.interface)
                if iface in SERVICES and signal.body:
                    self._set(iface, bool(signal.body[0]))

    # ------------------------------------------------------------------ logind
    def _run_logind(self) -> None:
        try:
            conn = self._open("SYSTEM")
        except (OSError, KeyError, ValueError):
            return  # no system bus (a container): the other checks remain
        if conn is None:
            return
        try:
            self._listen_logind(conn)
        except (OSError, ValueError, TimeoutError):
            pass
        finally:
            conn.close()

    def _listen_logind(self, conn: DBusConnection) -> None:
        manager = DBusAddress("/org/freedesktop/login1", LOGIN1, f"{LOGIN1}.Manager")
        reply = conn.send_and_get_reply(
            new_method_call(manager, "GetSessionByPID", "u", (os.getpid(),)), timeout=CALL_TIMEOUT_S
        )
        if reply.header.message_type is not MessageType.method_return:
            return  # not in a logind session
        path = str(reply.body[0])
        changed = MatchRule(type="signal", path=path, interface="org.freedesktop.DBus.Properties",
                            member="PropertiesChanged")  # fmt: skip
        requests = MatchRule(type="signal", path=path, interface=f"{LOGIN1}.Session")
        machine = MatchRule(type="signal", path="/org/freedesktop/login1",
                            interface=f"{LOGIN1}.Manager")  # fmt: skip
        for rule in (changed, requests, machine):
            conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT_S)
        # the bus sends only what the rules above match: one queue takes all of it, so the
        # thread wakes for a signal only
        with conn.filter(MatchRule(type="signal")) as signals:
            session = Properties(DBusAddress(path, LOGIN1, f"{LOGIN1}.Session"))
            for name in ("LockedHint", "Active"):
                r = conn.send_and_get_reply(session.get(name), timeout=CALL_TIMEOUT_S)
                if r.header.message_type is MessageType.method_return:
                    self._logind(name, bool(r.body[0][1]))
            while not self._stop.is_set():
                msg = conn.recv_until_filtered(signals)  # (`close` shuts the socket)
                if not any(r.matches(msg) for r in (changed, requests, machine)):
                    continue
                member = msg.header.fields.get(HeaderFields.member)
                if member in ("Lock", "Unlock"):
                    self._logind("LockedHint", member == "Lock")
                elif member in GOING_DOWN and msg.body:
                    with self._lock:
                        self._going[member] = bool(msg.body[0])
                elif member == "PropertiesChanged" and msg.body[0] == f"{LOGIN1}.Session":
                    for name, (_sig, value) in msg.body[1].items():
                        self._logind(name, bool(value))

    def _logind(self, name: str, value: bool) -> None:
        with self._lock:
            if name == "LockedHint":
                self._active["logind"] = value
            elif name == "Active":
                self._switched = not value
