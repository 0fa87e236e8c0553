"""Two real desk agents, one hub on a real PostgreSQL, one agent name (hot-desking): the week's
quota holds across both desks, each recording reaches the hub sealed, a hub that goes down
mid-call loses nothing (sealed here, shipped once it is back), and the trainer plays the
recording from the hub: real pixels of the business window, decoded."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentapp.demo.virtual_display import VirtualDesktop
from agentapp.vault.audit import AUDIT_FILE
from tests.hubs import Hub, hub_problem, publish, trial_hub
from tests.integration.conftest import BUSINESS, Agent, Windows, need, wait_until
from tests.policies import ACCESS, policy_text

POLICY = policy_text("alice", quota=3, extra=ACCESS)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    need(hub_problem() is None, f"no PostgreSQL server: {hub_problem()}")
    with trial_hub() as h:
        publish(h, POLICY, tmp_path)
        yield h


def _person(name: str, hub: Hub, role: str, kind: str, env: dict[str, str], data: Path) -> Agent:
    """A desk (or the trainer's desk) with its own hub login, its password in the key store."""
    (data / "keys").mkdir(parents=True, exist_ok=True)
    (data / "agent.toml").write_text(
        f'[hub]\nurl = "{hub.url}"\nuser = "{role}"\nca = "{hub.ca}"\nship_seconds = 2\n'
    )
    (data / "policy.toml").write_text(POLICY)
    a = Agent(data, dict(env, AGENTAPP_DATA_DIR=str(data), AGENTAPP_AGENT=name,
                         AGENTAPP_USER=name))  # fmt: skip
    secret = data / "hub-password"
    secret.write_text(hub.login(role, kind, name))
    assert f"as {name} ({kind})" in a.cli("hub", "login", "--password-file", str(secret)).stdout
    secret.unlink()
    return a


def _at_hub(hub: Hub, dpo_password: str) -> list[str]:
    from agentapp.hub.admin import recordings

    with hub.connect("dan", dpo_password) as db:
        return [r.id for r in recordings(db, agent="alice")]


def _trail_at_hub(hub: Hub, dpo_password: str, a: Agent) -> bool:
    """The hub holds this desk's trail up to its last entry, the checkpoint the desk writes
    after a round that shipped news (read there: writes no entry)."""
    from agentapp.core.auditchain import CHECKPOINT
    from agentapp.hub.admin import audit_rows
    from agentapp.vault.audit import AuditLog

    entries = AuditLog(a.data / AUDIT_FILE).entries()
    if not entries or entries[-1]["action"] != CHECKPOINT:
        return False
    with hub.connect("dan", dpo_password) as db:
        there = [int(r["local_seq"]) for r in audit_rows(db)
                 if r["source"].endswith(f":{a.data / AUDIT_FILE}")]  # fmt: skip
    return max(there, default=-1) == int(entries[-1]["seq"])


def _verify(a: Agent) -> subprocess.CompletedProcess[str]:
    return a.cli("audit", "verify", check=False, user="dan")  # the site's admin (ACCESS)


def _ready(a: Agent) -> bool:
    return "site hub" not in a.status()


def test_two_desks_one_agent_one_quota_and_a_hub_down_mid_call(
    hub: Hub, desktop: VirtualDesktop, windows: Windows, keystore: None, tmp_path: Path
) -> None:
    trainer = _person("carol", hub, "carol", "trainer", desktop.env, tmp_path / "trainer")
    trainer.cli("keys", "init")
    desks = []
    for n in (1, 2):
        d = _person("alice", hub, f"desk-{n}", "desk", desktop.env, tmp_path / f"desk{n}")
        for key in (trainer.data / "keys").iterdir():  # what the desk's package installs
            (d.data / "keys" / key.name).write_bytes(key.read_bytes())
        d.cli("notice", "acknowledge")
        desks.append(d.start())
    dpo = hub.login("dan", "dpo")
    one, two = desks
    try:
        wait_until(lambda: _ready(one) and _ready(two), "the desks did not reach the hub")
        assert one.hook("off-hook", "c1") == "ok: recording"
        time.sleep(2)
        one.hook("on-hook", "c1")
        assert two.hook("off-hook", "c2") == "ok: recording"
        time.sleep(2)
        two.hook("on-hook", "c2")
        wait_until(lambda: len(_at_hub(hub, dpo)) == 2, "the recordings did not reach the hub")
        checks = {c["name"]: c for c in json.loads(one.cli("doctor", "--json", check=False).stdout)}
        assert checks["hub"]["ok"] and "2 recordings this week" in checks["hub"]["detail"]

        # the hub goes down during the third call: the recording is sealed here, kept
        assert one.hook("off-hook", "c3") == "ok: recording"
        time.sleep(1)
        hub.stop()
        time.sleep(1.5)
        one.hook("on-hook", "c3")
        wait_until(lambda: any(r["status"] == "complete" for r in one.recordings()), "not sealed")
        wait_until(lambda: "site hub unreachable" in one.status(), "no hub problem")
        assert len(list((one.data / "recordings").rglob("*.seal"))) >= 1
        assert one.hook("off-hook", "c4").startswith("ok: not recording")  # fails closed
        one.hook("on-hook", "c4")
        checks = {c["name"]: c for c in json.loads(one.cli("doctor", "--json", check=False).stdout)}
        assert not checks["hub"]["ok"] and "not recorded" in checks["hub"]["detail"]
        hub.start()
        wait_until(lambda: len(_at_hub(hub, dpo)) == 3, "not shipped once the hub was back", 45)
        wait_until(lambda: all(r["status"] == "shipped" for r in one.recordings()), "no stubs")
        assert not list((one.data / "recordings").rglob("*.seal"))
        wait_until(lambda: _ready(two), "desk 2 did not reconnect", 45)
        # three this week on two desks: the fourth is refused by the hub, on either desk
        answer = two.hook("off-hook", "c5")
        two.hook("on-hook", "c5")
        assert answer == "ok: not recording (quota reached, site hub)", answer
        assert not [r for r in two.recordings() if r["status"] != "shipped"]
        # each `audit verify` traces itself, so the wait reads the hub's copy without it
        wait_until(lambda: _trail_at_hub(hub, dpo, one), "trail not shipped")
        assert "the same as here; 0 still" in _verify(one).stdout
    finally:
        for d in desks:
            d.stop()
    # the desk's trail wiped (it verifies on its own, empty): the hub's copy says otherwise
    (one.data / AUDIT_FILE).unlink()
    r = _verify(one)
    assert r.returncode == 1 and "no longer here" in r.stdout, r.stdout

    # the trainer plays the hub's copy of the call the hub missed: the business window's pixels
    shipped = sorted(_at_hub(hub, dpo))
    rid = shipped[-1]
    out = trainer.cli("hub", "fetch", rid, "--into", str(trainer.data), "--reason",
                      "weekly review of alice").stdout  # fmt: skip
    assert "sealed" in out
    frames = trainer.frames(rid, tmp_path / "c3.mp4")
    assert frames, "no frame decoded"
    _, image = frames[len(frames) // 2]
    h, w = image.shape[:2]  # type: ignore[attr-defined]
    b, g, r = (int(c) for c in image[h // 2, w // 2])  # type: ignore[index]
    assert all(abs(c - v) < 40 for c, v in zip((r, g, b), BUSINESS.color, strict=True)), (r, g, b)
    from agentapp.hub.admin import audit_rows

    with hub.connect("dan", dpo) as db:
        rows = audit_rows(db)
    started = [r for r in rows if r["action"] == "recording started"]
    assert sorted(r["target"] for r in started) == shipped  # both desks' trails, at the hub
    assert {r["db_user"] for r in started} == {"desk-1", "desk-2"}
    assert any(r["action"] == "recording fetched" and r["who"] == "carol" for r in rows)

    # her note on it goes to the hub sealed for the site's key: the hub never holds the text
    trainer.cli("hub", "note", rid, "--text", "greeting: too fast", "--at", "1.5")
    listed = trainer.cli("hub", "notes", rid, "--read", "weekly review").stdout
    assert "1.5 s  carol" in listed and "greeting: too fast" in listed, listed
    with hub.admin() as db:
        (sealed,) = db.execute("SELECT sealed FROM agentapp.notes").fetchone()
    assert b"too fast" not in bytes(sealed)
    import psycopg

    with hub.connect("dan", dpo) as db, pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("SELECT sealed FROM agentapp.notes")  # the DPO's role: no notes, no video
