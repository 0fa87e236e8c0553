"""One site folder, two real agents: a published policy reaches both; a tampered, unsigned or
rolled-back one is refused and the last good one stays; recordings reach the site, sealed,
also after the site was unreachable for a while — none lost, none twice."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentapp.demo.virtual_display import VirtualDesktop
from tests.integration.conftest import Agent, Windows, wait_until
from tests.policies import ACCESS, policy_text

TODAY = dt.date.today()


def _policy(version: int, bob_end: dt.date, quota: int = 5) -> str:
    text = policy_text("alice", quota=quota, extra=ACCESS + f"""
[[enrolment]]
agent = "bob"
training = "CRM onboarding"
start = {(TODAY - dt.timedelta(days=20)).isoformat()}
end = {bob_end.isoformat()}
""")  # fmt: skip
    return text.replace("version = 1", f"version = {version}")


def _version(agent: Agent) -> int:
    path = agent.data / "policy.toml"
    if not path.exists():
        return 0
    line = next(x for x in path.read_text().splitlines() if x.startswith("version"))
    return int(line.split("=")[1])


@pytest.fixture
def site(
    tmp_path: Path, desktop: VirtualDesktop, keystore: None
) -> Iterator[tuple[Agent, Path, list[Agent]]]:
    """The trainer's side (keys, publishing) and a site folder; agents are added by the test."""
    site = tmp_path / "site"
    site.mkdir()
    trainer = Agent(tmp_path / "trainer", dict(desktop.env, AGENTAPP_DATA_DIR=str(
        tmp_path / "trainer"), AGENTAPP_USER="carol"))  # fmt: skip
    trainer.data.mkdir()
    trainer.cli("keys", "init")
    trainer.cli("keys", "signing-init")
    started: list[Agent] = []
    yield trainer, site, started
    for a in started:
        a.stop()


def _agent(name: str, trainer: Agent, site: Path, env: dict[str, str], root: Path) -> Agent:
    data = root / name
    (data / "keys").mkdir(parents=True)
    for key in (trainer.data / "keys").iterdir():  # what the agent's package installs
        (data / "keys" / key.name).write_bytes(key.read_bytes())
    (data / "agent.toml").write_text(f'[site]\nfolder = "{site}"\nship_seconds = 2\n')
    a = Agent(data, dict(env, AGENTAPP_DATA_DIR=str(data), AGENTAPP_AGENT=name,
                         AGENTAPP_USER=name))  # fmt: skip
    return a


def _publish(trainer: Agent, site: Path, text: str, tmp: Path) -> str:
    src = tmp / "draft.toml"
    src.write_text(text)
    return trainer.cli("policy", "publish", str(src), "--site", str(site)).stdout


def test_policy_reaches_every_agent_and_bad_ones_are_refused(
    site: tuple[Agent, Path, list[Agent]], desktop: VirtualDesktop, windows: Windows,
    tmp_path: Path,
) -> None:  # fmt: skip
    trainer, folder, started = site
    out = _publish(trainer, folder, _policy(1, TODAY + dt.timedelta(days=30)), tmp_path)
    assert "policy adopted" in out and "version 1 signed" in out
    signed_v1 = (folder / "policy" / "policy.toml").read_bytes()
    alice = _agent("alice", trainer, folder, desktop.env, tmp_path)
    bob = _agent("bob", trainer, folder, desktop.env, tmp_path)
    for a in (alice, bob):
        started.append(a.start())
    wait_until(lambda: _version(alice) == 1 and _version(bob) == 1, "v1 did not reach both agents")
    for a in (alice, bob):
        a.cli("notice", "acknowledge")

    assert alice.hook("off-hook", "c1") == "ok: recording"
    time.sleep(2.0)
    alice.hook("on-hook", "c1")
    wait_until(lambda: len(list((folder / "recordings").glob("2*"))) == 1, "not delivered")
    (rid,) = [p.name for p in (folder / "recordings").iterdir()]
    wait_until(lambda: alice.recordings()[0]["status"] == "shipped", "no local stub")
    assert not list((alice.data / "recordings").rglob("*.seal"))  # sealed, and gone from here

    # v2: bob's enrolment ended yesterday; both agents obey within seconds
    out = _publish(trainer, folder, _policy(2, TODAY - dt.timedelta(days=1), quota=7), tmp_path)
    assert "enrolment changed: bob" in out and "alice" in out
    wait_until(lambda: _version(alice) == 2 and _version(bob) == 2, "v2 did not reach both agents")
    assert bob.hook("off-hook", "c2") == "ok: not recording (enrolment has ended)"
    bob.hook("on-hook", "c2")
    # seen: the older signed v1 copied onto bob's desk was obeyed until restart (bob recorded)
    (bob.data / "policy.toml").write_bytes(signed_v1)
    answer = bob.hook("off-hook", "c2b")
    assert answer.startswith("ok: not recording"), answer
    bob.hook("on-hook", "c2b")
    wait_until(lambda: _version(bob) == 2, "the desk's copy was not repaired from the site")
    assert not [r for r in bob.recordings()], bob.recordings()

    # tampered after signing, unsigned, rolled back: refused, v2 stays, the status says why
    signed = (folder / "policy" / "policy.toml").read_bytes()
    for bad, why in [
        (signed.replace(b"version = 2", b"version = 3"), "does not match"),
        (_policy(9, TODAY).encode(), "not signed"),
    ]:
        (folder / "policy" / "policy.toml").write_bytes(bad)
        wait_until(lambda why=why: why in alice.status(), f"no '{why}' in the status")  # type: ignore[misc]
        assert _version(alice) == 2
    v1 = tmp_path / "v1.toml"
    v1.write_text(_policy(1, TODAY + dt.timedelta(days=30)))
    (folder / "policy" / "policy.toml").write_bytes(signed)
    wait_until(lambda: "site policy" not in alice.status(), "the good policy is back")
    r = trainer.cli("policy", "publish", str(v1), "--site", str(folder), check=False)
    assert r.returncode == 1 and "not higher" in r.stderr  # publish refuses a rollback too

    # the site is unreachable for a while: recordings wait here, sealed, then arrive once
    away = folder.with_name("site-away")
    folder.rename(away)
    alice.cli("notice", "acknowledge")  # v2 changed alice's quota: a new notice
    assert alice.hook("off-hook", "c3") == "ok: recording"
    time.sleep(2.0)
    alice.hook("on-hook", "c3")
    wait_until(lambda: any(r["status"] == "complete" for r in alice.recordings()), "not sealed")
    time.sleep(5)  # delivery attempts fail meanwhile (every 2 s)
    assert len(list((alice.data / "recordings").rglob("*.seal"))) >= 1
    assert "site policy unreachable" in alice.cli("status").stdout
    checks = {c["name"]: c for c in json.loads(alice.cli("doctor", "--json", check=False).stdout)}
    assert not checks["site"]["ok"] and checks["policy"]["ok"]  # the last good one verifies
    away.rename(folder)
    checks = {c["name"]: c for c in json.loads(alice.cli("doctor", "--json", check=False).stdout)}
    assert checks["site"]["ok"], checks["site"]
    wait_until(lambda: len(list((folder / "recordings").glob("2*"))) == 2, "not delivered after")
    assert not list((folder / "recordings").glob(".*"))
    assert [r["status"] for r in alice.recordings()] == ["shipped", "shipped"]

    # the trainer reviews at the site: both recordings, exported from the site folder
    site_env = dict(trainer.env, AGENTAPP_DATA_DIR=str(folder))
    (folder / "policy.toml").write_text(_policy(2, TODAY))  # the trainer's own copy of roles
    listed = Agent(folder, site_env).cli("recordings", "list", "--json").stdout
    assert sorted(r["id"] for r in json.loads(listed))[0] == rid


def test_window_picker_reads_real_windows_and_rule_matches_only_the_business_one(
    desktop: VirtualDesktop, windows: Windows,
) -> None:  # fmt: skip
    """What the console's picker offers comes from the real X11 locator; the rule it writes
    from the picked window matches that window and not the private one."""
    from agentapp.core.policy import WindowRule
    from agentapp.platform.x11 import X11Locator
    from agentapp.trainer.console import ConsoleModel

    locator = X11Locator(desktop.env["DISPLAY"])
    try:
        found = locator.windows()
    finally:
        locator.close()
    (crm,) = [w for w in found if w.handle == windows.business]
    assert "agentapp-business" in crm.wm_class and crm.title == "CRM — form"
    assert crm.executable and crm.executable.startswith("python")
    rule = WindowRule("CRM", wm_class=crm.wm_class[-1])
    hits = ConsoleModel.matching(rule, found)
    assert [w.handle for w in hits] == [windows.business]


def test_click_picks_the_window_under_the_pointer(
    desktop: VirtualDesktop, windows: Windows,
) -> None:  # fmt: skip
    """The console's "Click on the window…": a real click (xdotool) on the business window."""
    import subprocess
    import threading

    from agentapp.platform.x11 import X11Locator

    locator = X11Locator(desktop.env["DISPLAY"])
    picked: list[object] = []
    try:
        t = threading.Thread(target=lambda: picked.append(locator.pick(timeout=10)))
        t.start()
        time.sleep(0.5)  # the pointer grab is in place
        x, y = 300, 300  # inside the business window, away from the private one
        subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], env=desktop.env,
                       check=True)  # fmt: skip
        t.join(15)
    finally:
        locator.close()
    (info,) = picked
    assert info is not None and info.handle == windows.business  # type: ignore[attr-defined]
