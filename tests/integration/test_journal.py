"""The agent's log in the systemd journal, read back with journalctl from a real
systemd-journald started by the test in a journal namespace of its own (so it touches no
journal of the machine's). Needs root (journald's namespaces live in /run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentapp.demo.virtual_display import VirtualDesktop, stop_process
from tests.integration.conftest import Agent, Windows, need, wait_until
from tests.policies import policy_text

JOURNALD = Path("/lib/systemd/systemd-journald")
Journal = tuple[str, Path, "subprocess.Popen[bytes]"]


@pytest.fixture
def journal() -> Iterator[Journal]:
    """(namespace, its socket, journald): a journald of the test's, stopped by PID at the
    end."""
    need(os.geteuid() == 0, "journal namespaces need root")
    need(JOURNALD.exists() and shutil.which("journalctl") is not None, "systemd is not installed")
    ns = f"agentapptest{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([str(JOURNALD), ns], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    sock = Path(f"/run/systemd/journal.{ns}/socket")
    try:
        wait_until(lambda: sock.exists() or proc.poll() is not None, "journald did not start")
        assert proc.poll() is None, "journald exited"
        yield ns, sock, proc
    finally:
        stop_process(proc, timeout=10)
        shutil.rmtree(sock.parent, ignore_errors=True)
        for base in (Path("/run/log/journal"), Path("/var/log/journal")):
            for d in base.glob(f"*.{ns}"):
                shutil.rmtree(d, ignore_errors=True)


def _entries(ns: str) -> list[dict[str, str]]:
    r = subprocess.run(["journalctl", f"--namespace={ns}", "-t", "agentapp", "-o", "json",
                        "--no-pager"], capture_output=True, text=True, timeout=30)  # fmt: skip
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def test_the_agent_logs_to_the_journal_one_line_per_event_and_falls_back_to_its_file(
    desktop: VirtualDesktop, keystore: None, windows: Windows, journal: Journal,
    make_agent: Callable[..., Agent],
) -> None:  # fmt: skip
    ns, sock, journald = journal
    env = dict(desktop.env, AGENTAPP_JOURNAL_SOCKET=str(sock))
    agent = make_agent(policy_text("alice"), env=env)
    detail = {c["name"]: c for c in json.loads(agent.cli("doctor", "--json", check=False).stdout)}
    assert f"log the systemd journal (journalctl -t agentapp; {sock})" in (
        detail["agentapp"]["detail"])  # fmt: skip
    agent.start()
    agent.call("journal-call-secret-1", 1.5)
    wait_until(lambda: any("recording" in e.get("MESSAGE", "") for e in _entries(ns)),
               "nothing about the recording reached the journal")  # fmt: skip
    entries = _entries(ns)
    messages = [e["MESSAGE"] for e in entries]
    assert any(m.startswith("log: the systemd journal") for m in messages), messages
    for e in entries:
        assert "\n" not in e["MESSAGE"]  # one line per event
        assert e["PRIORITY"] in "234567" and e["SYSLOG_IDENTIFIER"] == "agentapp"
        assert e["AGENTAPP_LOGGER"].startswith("agentapp") and e["CODE_LINE"].isdigit()
        assert "journal-call-secret-1" not in json.dumps(e)  # calls by hash only
    assert not (agent.data / "agent.log").exists()  # the journal took every record
    print("journal:", *messages, sep="\n  ")

    # The journal goes away (a restart, a crash): the agent's records land in its file.
    journald.terminate()
    journald.wait(timeout=10)
    agent.call("journal-call-secret-2", 1.0)
    agent.stop()
    log = agent.log()
    assert "agent stopping" in log and "journal-call-secret-2" not in log
