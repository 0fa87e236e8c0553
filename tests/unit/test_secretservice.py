"""The Secret Service asked over one kept connection (vault/secretservice.py), against the
real gnome-keyring the suite runs under (scripts/with-keyring.sh, tests/conftest.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backends import SecretService
from keyring.errors import PasswordDeleteError

from agentapp.vault import keys
from agentapp.vault.secretservice import KeptSecretService
from tests.integration.conftest import need

SERVICE = "agentapp-test"


@pytest.fixture
def kept() -> Iterator[KeptSecretService]:
    problem = keys.keystore_problem()
    need(problem is None, f"no key store here: {problem} (run under scripts/test.sh)")
    backend = KeptSecretService()
    yield backend
    backend.close()


def _entry() -> str:
    return f"entry-{secrets.token_hex(4)}"


def test_secrets_written_and_read_on_one_connection(kept: KeptSecretService) -> None:
    entry = _entry()
    assert kept.get_password(SERVICE, entry) is None
    for n in range(5):
        kept.set_password(SERVICE, entry, f"value {n}")
        assert kept.get_password(SERVICE, entry) == f"value {n}"
    assert kept.connections == 1  # one connection and one key exchange, not ten
    kept.delete_password(SERVICE, entry)
    assert kept.get_password(SERVICE, entry) is None
    with pytest.raises(PasswordDeleteError):
        kept.delete_password(SERVICE, entry)


def test_what_it_stores_is_what_keyrings_own_back_end_reads_and_back(
    kept: KeptSecretService,
) -> None:
    """The same items, attributes and labels as keyring's: a desk upgraded from a version
    that used keyring's back-end keeps its keys and its audit trail's head."""
    plain = SecretService.Keyring()
    mine, theirs = _entry(), _entry()
    kept.set_password(SERVICE, mine, "written kept")
    plain.set_password(SERVICE, theirs, "written plain")
    try:
        assert plain.get_password(SERVICE, mine) == "written kept"
        assert kept.get_password(SERVICE, theirs) == "written plain"
        kept.set_password(SERVICE, theirs, "replaced")  # replaced, not a second item
        assert plain.get_password(SERVICE, theirs) == "replaced"
    finally:
        plain.delete_password(SERVICE, mine)
        plain.delete_password(SERVICE, theirs)


def test_a_connection_lost_under_it_is_opened_again(kept: KeptSecretService) -> None:
    entry = _entry()
    kept.set_password(SERVICE, entry, "before")
    kept._collection.connection.close()  # the bus went away under the kept connection
    assert kept.get_password(SERVICE, entry) == "before"
    assert kept.connections == 2
    kept.delete_password(SERVICE, entry)


def test_the_agents_key_store_is_the_kept_one_on_linux() -> None:
    problem = keys.keystore_problem()
    need(problem is None, f"no key store here: {problem} (run under scripts/test.sh)")
    backend = keys._keyring().get_keyring()
    if keys._keyring().core.load_env() is not None:
        pytest.skip("the person running the tests chose another back-end (PYTHON_KEYRING_BACKEND)")
    assert isinstance(backend, KeptSecretService)
    entry = _entry()
    keys.store_secret(entry, "v")
    assert keys.load_optional_secret(entry) == "v"
    backend.delete_password(keys.SERVICE, entry)


def test_a_process_whose_session_bus_changed_is_answered_on_the_new_one(
    kept: KeptSecretService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    entry = _entry()
    kept.set_password(SERVICE, entry, "here")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    with pytest.raises(Exception):  # noqa: B017 - whatever the bus library raises
        kept.get_password(SERVICE, entry)  # not the old connection's answer
    monkeypatch.undo()
    assert kept.get_password(SERVICE, entry) == "here"
    kept.delete_password(SERVICE, entry)


def test_a_key_store_that_stops_answering_gives_a_line_not_a_hang(
    kept: KeptSecretService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real gnome-keyring stopped (SIGSTOP: a daemon stalled under load): the caller gets
    a line naming the wait, after one retry, instead of waiting on the bus for ever; once the
    daemon runs again, the next call is answered."""
    import os
    import signal
    import time

    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    from agentapp.vault import secretservice

    with open_dbus_connection("SESSION") as bus:
        asked = message_bus.GetConnectionUnixProcessID("org.freedesktop.secrets")
        reply = bus.send_and_get_reply(asked, timeout=5)
    (pid,) = reply.body
    entry = _entry()
    kept.set_password(SERVICE, entry, "before")
    monkeypatch.setattr(secretservice, "REPLY_TIMEOUT_S", 1.0)
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="the key store did not answer within 1 s"):
            kept.get_password(SERVICE, entry)
        assert time.monotonic() - started < 5  # two bounded tries, not the bus's own minutes
    finally:
        os.kill(pid, signal.SIGCONT)
    assert kept.get_password(SERVICE, entry) == "before"
    kept.delete_password(SERVICE, entry)
