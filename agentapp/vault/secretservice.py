"""keyring's Secret Service back-end, on one connection kept for the process's life.

keyring's own back-end opens a D-Bus connection for every secret it reads or writes, and an
encrypted session with it: a Diffie-Hellman key exchange done in Python, about 15 ms of CPU.
The agent writes the audit trail's head to the key store at every entry, a few entries a call,
so that exchange was the largest part of what a call costs beyond its frames. This back-end
keeps the connection, the login collection and one encrypted session, and stores items exactly
as keyring does (same attributes and labels): either back-end reads what the other wrote.

A failure on the kept connection (the key store restarted, the bus went away) drops it and
the operation is tried once more on a new one; a second failure is the caller's. A process
whose session bus changed (DBUS_SESSION_BUS_ADDRESS) is answered on the new one, as keyring's
own back-end would.

A key store that stops answering (seen: a stalled daemon under load) would hold the caller
until the bus gave up, twice: every method call waits at most REPLY_TIMEOUT_S for its reply,
so the caller gets one line instead of a hang. An unlock prompt is not a reply: the person's
password is waited for as a signal, with no bound.

Threading: any thread; one lock serialises the connection's use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from keyring.backends import SecretService
from keyring.errors import PasswordDeleteError

T = TypeVar("T")

REPLY_TIMEOUT_S = 10.0  # a key store answers a method at once; this is a stalled one


def _bounded(conn: Any) -> Any:
    """`conn` (jeepney's blocking connection), whose replies are waited for a bounded time."""
    wait = conn.send_and_get_reply

    def send_and_get_reply(message: Any, *, timeout: float | None = None) -> Any:
        try:
            return wait(message, timeout=REPLY_TIMEOUT_S if timeout is None else timeout)
        except TimeoutError:
            raise TimeoutError(
                f"the key store did not answer within {REPLY_TIMEOUT_S:.0f} s"
            ) from None

    conn.send_and_get_reply = send_and_get_reply
    return conn


class KeptSecretService(SecretService.Keyring):
    """The Secret Service, asked over a connection and a session opened once."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._collection: Any = None
        self._bus: str | None = None  # the session bus address it was opened on
        self.connections = 0  # opened so far (a figure for the tests and the bench)

    def get_password(self, service: str, username: str) -> str | None:
        def ask(collection: Any) -> str | None:
            for item in collection.search_items(self._query(service, username)):
                self.unlock(item)
                return item.get_secret().decode("utf-8")
            return None

        return self._kept(ask)

    def set_password(self, service: str, username: str, password: str) -> None:
        attributes = self._query(service, username, application=self.appid)
        label = f"Password for '{username}' on '{service}'"
        self._kept(lambda c: c.create_item(label, attributes, password, replace=True))

    def delete_password(self, service: str, username: str) -> None:
        def delete(collection: Any) -> bool:
            for item in collection.search_items(self._query(service, username)):
                item.delete()
                return True
            return False

        if not self._kept(delete):
            raise PasswordDeleteError("No such password!")

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _kept(self, do: Callable[[Any], T]) -> T:
        with self._lock:
            if self._bus != os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
                self._drop()
            for attempt in (1, 2):
                if self._collection is None:
                    self._open()
                try:
                    return do(self._collection)
                except Exception:
                    self._drop()
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

    def _open(self) -> None:
        import secretstorage
        from keyring.errors import KeyringLocked
        from secretstorage.util import open_session

        bus = _bounded(secretstorage.dbus_init())
        try:  # (as keyring's get_preferred_collection, on the bounded connection)
            if hasattr(self, "preferred_collection"):
                collection = secretstorage.Collection(bus, self.preferred_collection)
            else:
                collection = secretstorage.get_default_collection(bus)
            if collection.is_locked():
                collection.unlock()
                if collection.is_locked():  # the person dismissed the prompt
                    raise KeyringLocked("Failed to unlock the collection!")
        except BaseException:
            bus.close()
            raise
        try:
            collection.session = open_session(collection.connection)  # shared by its items
        except Exception:
            collection.connection.close()
            raise
        self._collection = collection
        self._bus = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        self.connections += 1

    def _drop(self) -> None:
        collection, self._collection = self._collection, None
        if collection is not None:
            try:
                collection.connection.close()
            except OSError:
                pass
