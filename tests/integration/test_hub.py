"""The hub on a real PostgreSQL (Debian's server, a temporary cluster made by `agentapp hub
init`'s code, run as an unprivileged account, TLS and SCRAM): the weekly quota under
concurrent reservations from two desks, an audit trail no role can change, row-level
security per role, the purge at the deadline, a desk's trail shipped and checked."""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hubs import (
    END,
    START,
    Hub,
    Logins,
    hub_problem,
    logins_on_a_hub,
    meta,
    new_rid,
    sales_policy,
)
from tests.integration.conftest import need

psycopg = pytest.importorskip("psycopg")

POLICY = sales_policy(
    4,
    f"""
[[enrolment]]
agent = "gina"
training = "CRM onboarding"
start = {START}
end = {END}
weekly_quota = 3

[[enrolment]]
agent = "eve"
training = "Sales basics"
start = {START}
end = {END}
weekly_quota = 10
""",
)
PEOPLE = {
    "desk-a": "desk",
    "desk-b": "desk",
    "alice": "agent",
    "bob": "agent",
    "gina": "agent",
    "carol": "trainer",
    "erin": "trainer",
    "dan": "dpo",
    "it": "admin",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Logins]]:
    need(hub_problem() is None, f"no PostgreSQL server: {hub_problem()}")
    with logins_on_a_hub(POLICY, PEOPLE, tmp_path_factory.mktemp("policy")) as both:
        yield both


_IDS: dict[str, str] = {}


def rid(tag: str) -> str:
    """The recording id a test calls `tag` (ids have one form: core/names.py)."""
    return _IDS.setdefault(tag, new_rid())


def _one(db: Any, query: str, args: tuple[object, ...] = ()) -> Any:
    value = db.execute(query, args).fetchone()[0]
    db.commit()
    return value


def _ship(
    desk: Any, tag: str, agent: str, training: str, age_days: float = 0, hub: Hub | None = None
) -> str:
    """Reserve and ship recording `tag`; `age_days` back-dates its reservation at the hub (as
    its superuser) and its start, as if the call had been that long ago."""
    from psycopg.types.json import Jsonb

    data = b"sealed:" + rid(tag).encode()
    assert _one(desk, "SELECT agentapp.reserve_slot(%s, %s)", (rid(tag), agent)) == "reserved"
    if age_days:
        assert hub is not None
        with hub.admin() as su:
            su.execute("UPDATE agentapp.reservations SET at = now() - %s * interval '1 day' "
                       "WHERE recording_id = %s", (age_days, rid(tag)))  # fmt: skip
    answer = desk.execute(
        "SELECT agentapp.ship_recording(%s)",
        (Jsonb(meta(rid(tag), agent, training, age_days=age_days)),),
    ).fetchone()[0]
    if answer == "stored":
        desk.execute(
            "SELECT agentapp.ship_segment(%s, 'seg-000000.seal', %s, %s)",
            (rid(tag), data, hashlib.sha256(data).hexdigest()),
        )
    desk.commit()
    return str(answer)


def test_only_tls_and_a_login_of_ones_own_get_in(hub: tuple[Hub, Logins]) -> None:
    h, logins = hub
    with pytest.raises(Exception, match="password authentication failed"):
        h.connect("alice", "not her password")
    port = h.cluster.port
    with pytest.raises(psycopg.OperationalError, match=r"reject|no encryption|SSL off"):
        psycopg.connect(
            host="127.0.0.1",
            port=port,
            dbname="agentapp",
            user="alice",
            password=logins.passwords["alice"],
            sslmode="disable",
        )
    db = logins("alice")
    assert db.info.pgconn.ssl_in_use
    assert db.execute("SELECT agentapp.me(), agentapp.my_kind()").fetchone() == ("alice", "agent")


def test_twenty_concurrent_reservations_from_two_desks_never_exceed_the_quota(
    hub: tuple[Hub, Logins],
) -> None:
    """alice's quota is 3 a week: 20 reservations at once, half from each desk."""
    _, logins = hub
    desks = [logins("desk-a" if i % 2 else "desk-b") for i in range(20)]
    start = threading.Barrier(20)
    answers: dict[int, str] = {}

    def reserve(i: int) -> None:
        start.wait()
        answers[i] = _one(desks[i], "SELECT agentapp.reserve_slot(%s, 'alice')", (rid(f"q{i}"),))

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers.values()).count("reserved") == 3, answers
    assert sorted(answers.values()).count("quota reached") == 17, answers
    assert _one(desks[0], "SELECT agentapp.week_used('alice')") == 3
    # a reservation given back (a recording discarded) frees the slot, once
    (taken,) = [i for i, a in answers.items() if a == "reserved"][:1]
    desk = desks[taken]
    assert _one(desk, "SELECT agentapp.release_slot(%s)", (rid(f"q{taken}"),)) is True
    assert _one(desk, "SELECT agentapp.release_slot(%s)", (rid(f"q{taken}"),)) is False
    reserve = "SELECT agentapp.reserve_slot(%s, %s)"
    assert _one(desk, reserve, (rid("q-again"), "alice")) == "reserved"
    assert _one(desk, reserve, (rid("q-more"), "alice")) == "quota reached"
    assert _one(desk, reserve, (rid("q-x"), "mallory")) == "not enrolled"
    # a person, not a desk, cannot take a slot
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        logins("alice").execute(reserve, (rid("q-self"), "alice"))


def test_no_role_can_change_or_remove_the_trail(hub: tuple[Hub, Logins]) -> None:
    from agentapp.hub.admin import audit_rows, verify_trail

    h, logins = hub
    desk, dpo = logins("desk-a"), logins("dan")
    assert (
        _one(
            desk,
            "SELECT agentapp.ship_audit('pc:trail', 1, 'h1', '2026-12-03T10:00', "
            "'alice', 'recording started', 'r1', '')",
        )
        == "stored"
    )
    for db in (desk, dpo):
        for sql in (
            "UPDATE agentapp.audit SET reason = 'nothing happened'",
            "DELETE FROM agentapp.audit",
            "TRUNCATE agentapp.audit",
            "INSERT INTO agentapp.audit (seq) VALUES (999999)",
            "SELECT agentapp._append('x', 0, '', '', 'x', 'x', 'x', 'x')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                db.execute(sql)
            db.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        desk.execute("SELECT count(*) FROM agentapp.audit")  # a desk does not read the trail
    desk.rollback()
    with h.admin() as su:  # even the database's superuser meets the trigger
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            su.execute("DELETE FROM agentapp.audit")
        su.rollback()
    rows = audit_rows(dpo)
    assert verify_trail(rows).ok and rows[-1]["db_user"] == "desk-a"  # the database's name


def test_a_changed_entry_is_found_by_the_hubs_verify(
    hub: tuple[Hub, Logins], tmp_path: Path
) -> None:
    """The trail's check can fail: a superuser who silences the trigger and edits a row."""
    import subprocess

    h, logins = hub
    _one(logins("carol"), "SELECT agentapp.audit_append('viewed', 'r-x', 'weekly review')")
    # (a data folder of its own: the verifier's signed record of heads is kept there)
    cli = [sys.executable, "-m", "agentapp", "hub", "audit", "--dir", str(h.cluster.folder),
           "--data-dir", str(tmp_path / "dpo")]  # fmt: skip
    ok = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "chain verified" in ok.stdout, ok.stderr
    assert "carol" in ok.stdout  # the who is the login's person, not a claimed name
    with h.admin() as su:
        su.execute("ALTER TABLE agentapp.audit DISABLE TRIGGER audit_no_update")
        seq, reason = su.execute(
            "SELECT seq, reason FROM agentapp.audit WHERE action = 'viewed'"
        ).fetchone()
        su.execute("UPDATE agentapp.audit SET reason = 'edited' WHERE seq = %s", (seq,))
        su.commit()
        try:
            bad = subprocess.run([*cli, "--quiet"], capture_output=True, text=True, timeout=60)
        finally:
            su.execute("UPDATE agentapp.audit SET reason = %s WHERE seq = %s", (reason, seq))
            su.execute("ALTER TABLE agentapp.audit ENABLE TRIGGER audit_no_update")
            su.commit()
    assert bad.returncode == 1 and f"BROKEN at entry {seq}" in bad.stdout, bad.stdout


def test_each_role_sees_only_its_rows_and_the_dpo_no_video(hub: tuple[Hub, Logins]) -> None:
    from agentapp.hub.admin import recordings

    _, logins = hub
    desk_a, desk_b = logins("desk-a"), logins("desk-b")
    assert _ship(desk_a, "v-gina", "gina", "CRM onboarding") == "stored"
    assert _ship(desk_b, "v-bob", "bob", "Sales basics") == "stored"
    gina, bob = rid("v-gina"), rid("v-bob")

    def seen(role: str) -> set[str]:
        return {r.id for r in recordings(logins(role))} & {gina, bob}

    assert seen("gina") == {gina} and seen("bob") == {bob} and seen("alice") == set()
    assert seen("carol") == {gina} and seen("erin") == {bob}
    assert seen("dan") == seen("it") == {gina, bob}
    assert seen("desk-a") == {gina}  # a desk: what it shipped itself
    carol = logins("carol")
    got = carol.execute("SELECT recording_id, data FROM agentapp.segments").fetchall()
    assert [(r, bytes(d)) for r, d in got if r in (gina, bob)] == [
        (gina, b"sealed:" + gina.encode())
    ]
    for role in ("dan", "it"):  # the DPO's and IT's roles never read the video
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            logins(role).execute("SELECT data FROM agentapp.segments")
    # notes: a trainer on their trainings' recordings only; an agent writes none
    note = "INSERT INTO agentapp.notes (recording_id, at_s, sealed) VALUES (%s, %s, 'x')"
    carol.execute(note, (gina, 4.5))
    carol.commit()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        carol.execute(note, (bob, 1))
    carol.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        logins("gina").execute(note, (gina, 1))
    assert _one(logins("gina"), "SELECT count(*) FROM agentapp.notes") == 1
    assert _one(logins("bob"), "SELECT count(*) FROM agentapp.notes") == 0
    # a desk ships only what it reserved itself
    from psycopg.types.json import Jsonb

    assert _one(desk_a, "SELECT agentapp.reserve_slot(%s, 'gina')", (rid("s-1"),)) == "reserved"
    stolen = meta(rid("s-1"), "gina", "CRM onboarding")
    assert (
        _one(desk_b, "SELECT agentapp.ship_recording(%s)", (Jsonb(stolen),))
        == "refused: no reservation"
    )
    no_slot = meta(rid("never-reserved"), "gina", "CRM onboarding")
    assert (
        _one(desk_a, "SELECT agentapp.ship_recording(%s)", (Jsonb(no_slot),))
        == "refused: no reservation"
    )


def test_the_purge_deletes_what_is_due_and_traces_it(hub: tuple[Hub, Logins]) -> None:
    import subprocess

    from agentapp.hub.admin import audit_rows, purge
    from agentapp.hub.connect import HubError

    h, logins = hub
    desk = logins("desk-a")
    # the hub's own deadline: the start (its clock at the reservation) plus 183 days
    assert _ship(desk, "p-due", "eve", "Sales basics", age_days=183.01, hub=h) == "stored"
    assert _ship(desk, "p-kept", "eve", "Sales basics", age_days=182.9, hub=h) == "stored"
    with pytest.raises(HubError, match="permission denied for function purge_expired"):
        purge(logins("carol"))
    r = subprocess.run(
        [sys.executable, "-m", "agentapp", "hub", "purge", "--dir", str(h.cluster.folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and r.stdout.startswith("1 recordings"), (r.stdout, r.stderr)
    assert purge(logins("it")) == (0, 0)  # nothing more is due
    with h.admin() as su:
        left = su.execute(
            "SELECT id FROM agentapp.recordings WHERE id IN (%s, %s)", (rid("p-due"), rid("p-kept"))
        ).fetchall()
        blobs = su.execute(
            "SELECT count(*) FROM agentapp.segments WHERE recording_id = %s", (rid("p-due"),)
        ).fetchone()[0]
    assert left == [(rid("p-kept"),)] and blobs == 0
    purged = [e for e in audit_rows(logins("dan")) if e["action"] == "recording purged"]
    assert [(e["target"], e["who"]) for e in purged][-1] == (rid("p-due"), "eve")


def test_a_desks_trail_is_shipped_once_and_a_rewrite_is_recorded(
    hub: tuple[Hub, Logins], tmp_path: Path
) -> None:
    from agentapp.core.config import HubConfig
    from agentapp.hub.admin import audit_rows
    from agentapp.hub.link import HubLink
    from agentapp.vault.audit import AuditLog
    from agentapp.vault.store import Vault
    from tests.fakes import MemoryAuditKeys

    h, logins = hub
    trail = AuditLog.in_dir(tmp_path, MemoryAuditKeys())  # type: ignore[arg-type]
    for n in range(3):
        trail.append("bob", "recording not kept", f"t-{n}", "window hidden")
    link = HubLink(
        HubConfig(h.url, "desk-b", h.ca),
        Vault(tmp_path / "recordings"),
        trail,
        connect=lambda: h.connect("desk-b", logins.passwords["desk-b"]),
    )
    try:
        assert link.problem is not None  # not connected yet: nothing may be recorded
        link.connect_quick()
        assert link.problem is None
        with h.admin() as su:  # its warm-up reservation read only, and was rolled back
            assert su.execute("SELECT count(*) FROM agentapp.reservations WHERE recording_id "
                              "LIKE '1970%'").fetchone() == (0,)  # fmt: skip
        link.ship_all()
        link.ship_all()  # nothing twice
        rows = [r for r in audit_rows(logins("dan")) if r["source"] == link.source]
        assert [r["local_seq"] for r in rows] == [1, 2, 3, 4]  # 4: the desk's checkpoint
        assert rows[-1]["action"] == "hub checkpoint"
        assert {r["db_user"] for r in rows} == {"desk-b"}
        # the trail wiped here and started again: the hub keeps the first and says so
        trail.path.unlink()
        fresh = AuditLog(trail.path, MemoryAuditKeys())  # type: ignore[arg-type]
        fresh.append("bob", "notice acknowledged", "", "")
        link.audit = fresh
        link.ship_all()
        rows = [r for r in audit_rows(logins("dan")) if r["source"] == link.source]
        assert [r["action"] for r in rows][-1] == "desk trail rewritten"
        assert [r["local_seq"] for r in rows] == [1, 2, 3, 4, 0]
    finally:
        link.stop()


def test_a_site_folders_trails_are_imported_once_and_a_broken_one_is_refused(
    hub: tuple[Hub, Logins], tmp_path: Path
) -> None:
    import subprocess

    from agentapp.files import layout
    from agentapp.hub.admin import audit_rows
    from agentapp.vault.audit import AuditLog
    from tests.fakes import MemoryAuditKeys

    h, logins = hub
    site = tmp_path / "site"
    layout.site_trails(site).mkdir(parents=True)
    good = AuditLog(layout.site_trails(site) / "carol-aaaa.jsonl", MemoryAuditKeys())  # type: ignore[arg-type]
    bad = AuditLog(layout.site_trails(site) / "erin-bbbb.jsonl", MemoryAuditKeys())  # type: ignore[arg-type]
    for n in range(3):
        good.append("carol", "view", f"r{n}", "weekly review")
        bad.append("erin", "view", f"s{n}", "weekly review")
    lines = bad.path.read_text().splitlines()
    bad.path.write_text("\n".join([lines[0].replace('"s0"', '"zz"'), *lines[1:]]) + "\n")
    cli = [sys.executable, "-m", "agentapp", "hub", "import-trails", "--dir",
           str(h.cluster.folder), "--site", str(site)]  # fmt: skip
    for _ in range(2):  # a second import adds nothing
        r = subprocess.run(cli, capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, r.stderr
        assert "carol-aaaa: 3 entries at the hub" in r.stdout
        assert "erin-bbbb: not imported" in r.stdout and "BROKEN at entry 2" in r.stdout
    rows = audit_rows(logins("dan"))
    assert [r["local_seq"] for r in rows if r["source"] == "site:carol-aaaa"] == [1, 2, 3]
    assert not [r for r in rows if r["source"] == "site:erin-bbbb"]


def test_a_slot_for_a_recording_that_could_not_start_is_given_back(
    hub: tuple[Hub, Logins], tmp_path: Path
) -> None:
    """The engine reserved a slot, then the trail refused 'recording started' (no key
    store): no 'recording discarded' will ever reach the hub, so the link gives the slot
    back itself, at once when the hub answers, else at its next round."""
    from agentapp.core.config import HubConfig
    from agentapp.hub.link import HubLink
    from agentapp.vault.audit import AuditLog
    from agentapp.vault.store import Vault
    from tests.fakes import MemoryAuditKeys

    h, logins = hub
    desk = logins("desk-b")
    used = _one(desk, "SELECT agentapp.week_used('eve')")
    link = HubLink(
        HubConfig(h.url, "desk-b", h.ca),
        Vault(tmp_path / "recordings"),
        AuditLog.in_dir(tmp_path, MemoryAuditKeys()),  # type: ignore[arg-type]
        connect=lambda: h.connect("desk-b", logins.passwords["desk-b"]),
    )
    try:
        link.connect_quick()
        assert link.reserve(rid("rel-1"), "eve") == "reserved"
        assert _one(desk, "SELECT agentapp.week_used('eve')") == used + 1
        link.release(rid("rel-1"))
        assert _one(desk, "SELECT agentapp.week_used('eve')") == used
        # the hub did not answer then: the slot is given back at the next round
        assert _one(desk, "SELECT agentapp.reserve_slot(%s, 'eve')", (rid("rel-2"),)) == "reserved"
        link._quick.close()
        link.release(rid("rel-2"))
        assert _one(desk, "SELECT agentapp.week_used('eve')") == used + 1
        link.ship_all()
        assert _one(desk, "SELECT agentapp.week_used('eve')") == used
    finally:
        link.stop()
