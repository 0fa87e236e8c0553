"""A real PostgreSQL hub for tests and benchmarks: Debian's server, a temporary cluster made by
`agentapp hub init`'s own code, run as the unprivileged `postgres` account when the tests
run as root, on a free loopback port; stopped by its PID and removed afterwards."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentapp.hub import cluster as hub_cluster
from agentapp.hub.admin import add_login
from agentapp.hub.connect import connect


def hub_problem() -> str | None:
    """Why no hub can run here (None: it can)."""
    try:
        hub_cluster.binaries()
    except Exception as exc:
        return str(exc)
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no 'postgres' account to run the server as"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Hub:
    cluster: hub_cluster.Cluster

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def ca(self) -> Path:
        return self.cluster.ca

    def admin(self) -> Any:
        return self.cluster.admin()

    def login(self, role: str, kind: str, person: str | None = None) -> str:
        with self.admin() as db:
            return add_login(db, role, kind, person or role)

    def connect(self, role: str, password: str) -> Any:
        return connect(self.url, role, password, self.ca, app="agentapp tests")

    def stop(self) -> None:
        """pg_ctl stop; if it does not, the postmaster's PID is killed."""
        try:
            hub_cluster.stop(self.cluster)
        except Exception:
            pid_file = self.cluster.data / "postmaster.pid"
            if pid_file.exists():
                pid = int(pid_file.read_text().split()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                time.sleep(0.5)

    def start(self) -> None:
        hub_cluster.start(self.cluster)


class Logins:
    """A login of each role (`people`: role → kind) on `hub`; calling it connects as one."""

    def __init__(self, hub: Hub, people: dict[str, str]) -> None:
        self.hub = hub
        self.passwords = {role: hub.login(role, kind) for role, kind in people.items()}
        self.open: list[Any] = []

    def __call__(self, role: str) -> Any:
        db = self.hub.connect(role, self.passwords[role])
        self.open.append(db)
        return db

    def close(self) -> None:
        for db in self.open:
            db.close()


START, END = dt.date.today() - dt.timedelta(days=1), dt.date.today() + dt.timedelta(days=60)


def sales_policy(bob_quota: int, more: str = "") -> str:
    """The hub tests' policy: alice in CRM onboarding (quota 3), bob in Sales basics
    (`bob_quota`) with erin its trainer, the site's access rules, and `more` enrolments."""
    from tests.policies import ACCESS, policy_text

    return policy_text("alice", quota=3, extra=ACCESS + f"""
[[trainer]]
name = "erin"
trainings = ["Sales basics"]
minutes_per_week = 300

[[enrolment]]
agent = "bob"
training = "Sales basics"
start = {START}
end = {END}
weekly_quota = {bob_quota}
""" + more)  # fmt: skip


@contextlib.contextmanager
def logins_on_a_hub(policy: str, people: dict[str, str], tmp: Path) -> Iterator[tuple[Hub, Logins]]:
    """A trial hub with `policy` published and a login of each of `people`."""
    with trial_hub() as h:
        publish(h, policy, tmp)
        logins = Logins(h, people)
        try:
            yield h, logins
        finally:
            logins.close()


@contextlib.contextmanager
def trial_hub(max_connections: int = 100) -> Iterator[Hub]:
    folder = Path(tempfile.mkdtemp(prefix="agentapp-hub-", dir="/tmp"))
    run_as = "postgres" if os.geteuid() == 0 else ""
    if run_as:
        shutil.chown(folder, run_as)
    c = hub_cluster.init(folder, free_port(), "Europe/Paris", max_connections, run_as)
    hub = Hub(c)
    try:
        yield hub
    finally:
        hub.stop()
        shutil.rmtree(folder, ignore_errors=True)


def publish(hub: Hub, policy_text: str, tmp: Path) -> None:
    """The policy's enrolments, as IT publishes them (the trial hub's owner)."""
    from agentapp.core.policy import load_policy
    from agentapp.hub.admin import publish_policy

    path = tmp / f"policy-{time.monotonic_ns()}.toml"
    path.write_text(policy_text)
    with hub.admin() as db:
        publish_policy(db, load_policy(path), hashlib.sha256(path.read_bytes()).hexdigest())


def new_rid(started_at: float | None = None) -> str:
    """A recording id of the form the vault makes (core/names.py)."""
    when = dt.datetime.fromtimestamp(started_at or time.time(), dt.UTC)
    return when.strftime("%Y%m%dT%H%M%SZ-") + os.urandom(4).hex()


def meta(
    rid: str, agent: str, training: str, purge_in_days: float = 180, age_days: float = 0
) -> dict[str, object]:
    """A recording's metadata as a desk ships it (vault/store.py RecordingMeta.to_json)."""
    now = dt.datetime.now(dt.UTC).timestamp() - age_days * 86400
    return {
        "id": rid,
        "agent": agent,
        "training": training,
        "started_at": now,
        "purge_after": now + purge_in_days * 86400,
        "status": "complete",
        "duration_s": 12.5,
        "segments": 1,
        "size_bytes": 4,
    }
