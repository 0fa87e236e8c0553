"""The hub's trail anchored outside its database: a desk writes the chain's head into its own
signed trail after each round it ships, and the DPO's `hub audit` keeps a signed record of the
heads it verified. A superuser who deletes the last entries, or edits one and recomputes every
later hash (the chain then verifies on its own), is caught by the desk's `audit verify` and by
the DPO's next `hub audit`. Real PostgreSQL, the real CLI, a real key store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hubs import Hub, Logins, hub_problem, logins_on_a_hub
from tests.integration.conftest import Agent, need
from tests.policies import ACCESS, policy_text

pytest.importorskip("psycopg")

POLICY = policy_text("alice", quota=3, extra=ACCESS)
PEOPLE = {"desk-a": "desk", "dan": "dpo"}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[Hub, Logins]]:
    need(hub_problem() is None, f"no PostgreSQL server: {hub_problem()}")
    with logins_on_a_hub(POLICY, PEOPLE, tmp_path) as both:
        yield both


def _desk(h: Hub, logins: Logins, data: Path) -> Agent:
    """A desk's data folder with its hub login, its password in the key store."""
    data.mkdir()
    (data / "agent.toml").write_text(f'[hub]\nurl = "{h.url}"\nuser = "desk-a"\nca = "{h.ca}"\n')
    (data / "policy.toml").write_text(POLICY)
    a = Agent(data, {**os.environ, "AGENTAPP_DATA_DIR": str(data), "AGENTAPP_USER": "alice"})
    secret = data.parent / "pw"
    secret.write_text(logins.passwords["desk-a"])
    a.cli("hub", "login", "--password-file", str(secret))
    secret.unlink()
    return a


def _dpo_audit(h: Hub, dpo_data: Path) -> subprocess.CompletedProcess[str]:
    cli = [sys.executable, "-m", "agentapp", "hub", "audit", "--quiet", "--dir",
           str(h.cluster.folder), "--data-dir", str(dpo_data)]  # fmt: skip
    return subprocess.run(cli, capture_output=True, text=True, timeout=60)


def _rows(su: Any) -> list[dict[str, Any]]:
    cur = su.execute("SELECT * FROM agentapp.audit ORDER BY seq")
    names = [c.name for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_a_superuser_who_cuts_or_rehashes_the_trail_is_caught_by_checkpoints(
    hub: tuple[Hub, Logins], tmp_path: Path, keystore: None
) -> None:
    from agentapp.core.config import HubConfig
    from agentapp.hub.admin import row_hash
    from agentapp.hub.link import HubLink
    from agentapp.vault.audit import AuditLog
    from agentapp.vault.store import Vault

    h, logins = hub
    desk = _desk(h, logins, tmp_path / "desk")
    trail = AuditLog.in_dir(desk.data)  # the desk's trail, keyed in the real key store
    for n in range(3):
        trail.append("alice", "recording not kept", f"t-{n}", "window hidden")
    link = HubLink(HubConfig(h.url, "desk-a", h.ca), Vault(desk.data / "recordings"), trail,
                   connect=lambda: h.connect("desk-a", logins.passwords["desk-a"]))  # fmt: skip
    try:
        link.ship_all()
        marks = [e for e in trail.entries() if e["action"] == "hub checkpoint"]
        assert len(marks) == 1, trail.entries()
        link.ship_all()  # the checkpoint itself reaches the hub; it takes no new one
        link.ship_all()
        assert [e["action"] for e in trail.entries()].count("hub checkpoint") == 1
    finally:
        link.stop()
    dpo = tmp_path / "dpo"
    first = _dpo_audit(h, dpo)
    assert first.returncode == 0 and "kept here as this trail's checkpoint" in first.stdout, (
        first.stdout + first.stderr
    )
    assert "checkpoints taken by desks: 1, all held" in first.stdout
    ok = desk.cli("audit", "verify", user="dan")
    assert "checkpoints taken here: 1, all held" in ok.stdout, ok.stdout

    with h.admin() as su:
        su.execute("ALTER TABLE agentapp.audit DISABLE TRIGGER audit_no_update")
        su.commit()
        kept = _rows(su)
        marked = int(marks[0]["target"])
        cut = [r for r in kept if r["seq"] >= marked]  # from the desk's checkpoint to the end
        su.execute("DELETE FROM agentapp.audit WHERE seq >= %s", (marked,))
        su.commit()
        try:
            dpo_says, desk_says = _dpo_audit(h, dpo), desk.cli("audit", "verify", check=False,
                                                               user="dan")  # fmt: skip
        finally:
            names = list(cut[0])
            insert = (f"INSERT INTO agentapp.audit ({', '.join(names)}) "
                      f"VALUES ({', '.join(['%s'] * len(names))})")  # fmt: skip
            for r in cut:
                su.execute(insert, [r[k] for k in names])
            su.commit()
        # what `hub audit` said before checkpoints: the shortened chain verifies on its own
        assert "hub audit trail intact" in dpo_says.stdout
        assert dpo_says.returncode == 1 and "is no longer in the hub's trail" in dpo_says.stdout
        assert desk_says.returncode == 1, desk_says.stdout
        assert f"no longer holds its entry {marked}" in desk_says.stdout

        # an early entry edited, every later hash recomputed as the hub computes them
        assert _dpo_audit(h, dpo).returncode == 0  # restored
        rows = _rows(su)
        prev = rows[0]["prev"]
        for r in rows:
            if r["seq"] == 1:
                r["reason"] = "edited by the superuser"
            r["prev"] = prev
            r["hash"] = prev = row_hash(r)
            su.execute("UPDATE agentapp.audit SET reason = %s, prev = %s, hash = %s "
                       "WHERE seq = %s", (r["reason"], r["prev"], r["hash"], r["seq"]))  # fmt: skip
        su.commit()
        dpo_says = _dpo_audit(h, dpo)
        desk_says = desk.cli("audit", "verify", check=False, user="dan")
        su.execute("ALTER TABLE agentapp.audit ENABLE TRIGGER audit_no_update")
        su.commit()
    assert "hub audit trail intact" in dpo_says.stdout  # the chain alone is fooled
    assert dpo_says.returncode == 1 and "is not the one" in dpo_says.stdout, dpo_says.stdout
    assert desk_says.returncode == 1, desk_says.stdout
    assert f"the hub's entry {marked} is not the one seen from here" in desk_says.stdout


def test_a_dpos_record_of_heads_that_was_edited_is_said_and_nothing_is_added(
    hub: tuple[Hub, Logins], tmp_path: Path, keystore: None
) -> None:
    h, logins = hub
    with logins("dan") as db:
        db.execute("SELECT agentapp.audit_append('viewed', 'x', 'weekly review')")
        db.commit()
    dpo = tmp_path / "dpo"
    assert _dpo_audit(h, dpo).returncode == 0
    (record,) = (dpo / "hub-checkpoints").glob("*.jsonl")
    mark = '"hub checkpoint","target":"'
    record.write_text(record.read_text().replace(mark, mark + "9"))
    said = _dpo_audit(h, dpo)
    assert said.returncode == 1 and "the checkpoints kept here" in said.stdout, said.stdout
    assert "BROKEN" in said.stdout
