"""The hub believes nothing from outside, tried as an attacker would on a real PostgreSQL with
a login of every role and the real CLI: names that are paths, a desk's label for another
training, texts and JSON of 10 MB, dates in 1970 and 2100, locks held by desks, agents and
trainers, and a hub whose rows a superuser forged, fetched by a trainer."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hubs import (
    Hub,
    Logins,
    hub_problem,
    logins_on_a_hub,
    meta,
    new_rid,
    sales_policy,
)
from tests.integration.conftest import Agent, need

psycopg = pytest.importorskip("psycopg")
from psycopg.types.json import Jsonb  # noqa: E402

POLICY = sales_policy(15)
PEOPLE = {"desk-a": "desk", "desk-b": "desk", "alice": "agent", "bob": "agent",
          "carol": "trainer", "erin": "trainer", "dan": "dpo", "it": "admin"}  # fmt: skip
BIG = "x" * 10_000_000
BAD_IDS = ["../../escaped-1", "/tmp/agentapp-abs", "a\nb", "20261206T120000Z-0000000G", ".",
           "..", "20261206T120000Z-00000001/../../x"]  # fmt: skip


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Logins]]:
    need(hub_problem() is None, f"no PostgreSQL server: {hub_problem()}")
    with logins_on_a_hub(POLICY, PEOPLE, tmp_path_factory.mktemp("policy")) as both:
        yield both


def _one(db: Any, query: str, args: tuple[object, ...] = ()) -> Any:
    try:
        value = db.execute(query, args).fetchone()[0]
        db.commit()
    except psycopg.Error:
        db.rollback()
        raise
    return value


def _reserve(desk: Any, agent: str = "bob") -> str:
    rid = new_rid()
    assert _one(desk, "SELECT agentapp.reserve_slot(%s, %s)", (rid, agent)) == "reserved"
    return rid


def _counts(h: Hub) -> tuple[int, ...]:
    with h.admin() as su:
        return tuple(
            su.execute(f"SELECT count(*) FROM agentapp.{t}").fetchone()[0]
            for t in ("recordings", "segments", "audit", "audit_inbox", "reservations", "notes")
        )


def _trail(h: Hub) -> list[tuple[str, str, str]]:
    with h.admin() as su:
        su.execute("SET ROLE agentapp_owner")
        su.execute("SELECT agentapp._chain()")
        rows = su.execute("SELECT action, target, reason FROM agentapp.audit ORDER BY seq")
        return [tuple(r) for r in rows.fetchall()]


def test_a_recording_id_or_a_segment_name_that_is_a_path_is_refused(
    hub: tuple[Hub, Logins],
) -> None:
    _, logins = hub
    desk = logins("desk-a")
    for bad in BAD_IDS:
        assert _one(desk, "SELECT agentapp.reserve_slot(%s, 'bob')", (bad,)) == (
            "refused: not a recording id"
        ), bad
        assert _one(desk, "SELECT agentapp.ship_recording(%s)", (Jsonb(meta(bad, "bob",
                    "Sales basics")),)) == "refused: not a recording id", bad  # fmt: skip
    with pytest.raises(psycopg.DataError):  # PostgreSQL's text holds no NUL
        _one(desk, "SELECT agentapp.reserve_slot(%s, 'bob')", ("a\x00b",))
    for name in (
        "../../victim",
        "/etc/passwd",
        "seg-000001.seal/../x",
        ".hidden",
        "recording.json",
    ):
        rid = _reserve(desk)
        shipped = desk.execute(
            "SELECT agentapp.ship_recording(%s)", (Jsonb(meta(rid, "bob", "Sales basics")),)
        ).fetchone()[0]
        assert shipped == "stored"  # and in the same transaction, its segment:
        with pytest.raises(psycopg.errors.CheckViolation, match=r"seg-NNNNNN\.seal"):
            desk.execute("SELECT agentapp.ship_segment(%s, %s, 'x', %s)",
                         (rid, name, hashlib.sha256(b"x").hexdigest()))  # fmt: skip
        desk.rollback()


def test_a_desk_label_for_another_training_is_refused_and_traced(
    hub: tuple[Hub, Logins],
) -> None:
    from agentapp.hub.admin import recordings

    h, logins = hub
    desk = logins("desk-a")
    rid = _reserve(desk, "alice")  # alice is enrolled in "CRM onboarding" (carol's)
    answer = _one(desk, "SELECT agentapp.ship_recording(%s)",
                  (Jsonb(meta(rid, "alice", "Sales basics")),))  # fmt: skip
    assert answer.startswith("refused: labelled training Sales basics"), answer
    assert rid not in {r.id for r in recordings(logins("erin"))}  # not shown to B's trainer
    assert rid not in {r.id for r in recordings(logins("dan"))}  # not stored at all
    refused = [t for t in _trail(h) if t[0] == "recording refused" and t[1] == rid]
    assert len(refused) == 1 and "enrolled alice in CRM onboarding" in refused[0][2]
    _one(desk, "SELECT agentapp.ship_recording(%s)",
         (Jsonb(meta(rid, "alice", "Sales basics")),))  # fmt: skip
    assert len([t for t in _trail(h) if t[0] == "recording refused" and t[1] == rid]) == 1
    # the truth is stored under the hub's training, whatever else the desk sends
    assert _one(desk, "SELECT agentapp.ship_recording(%s)",
                (Jsonb(meta(rid, "alice", "CRM onboarding")),)) == "stored"  # fmt: skip
    assert rid in {r.id for r in recordings(logins("carol"))}


def test_texts_and_json_of_10_mb_are_refused_and_nothing_is_stored(
    hub: tuple[Hub, Logins],
) -> None:
    h, logins = hub
    desk, carol, it = logins("desk-a"), logins("carol"), logins("it")
    rid = _reserve(desk)
    before = _counts(h)
    attempts = [
        (desk, "SELECT agentapp.ship_audit('pc:big', 1, 'h', 'now', 'bob', 'x', 't', %s)", (BIG,)),
        (desk, "SELECT agentapp.ship_audit_batch('pc:big', %s)",
         (Jsonb([{"seq": 1, "hash": "h", "at": "", "who": "", "action": "a", "target": "",
                  "reason": BIG}]),)),
        (desk, "SELECT agentapp.ship_audit_batch('pc:big', %s)",
         (Jsonb([{"seq": n + 1, "hash": "h"} for n in range(600)]),)),
        (carol, "SELECT agentapp.audit_append('viewed', 'x', %s)", (BIG,)),
        (desk, "SELECT agentapp.ship_recording(%s)",
         (Jsonb({**meta(rid, "bob", "Sales basics"), "application": BIG}),)),
        (desk, "SELECT agentapp.ship_recording(%s)", (Jsonb(["not", "an", "object"]),)),
        (it, "SELECT agentapp.erase_recording(%s, %s)", (rid, BIG)),
    ]  # fmt: skip
    for db, query, args in attempts:
        with pytest.raises(psycopg.Error, match=r"more than 500|at most 500|64 KiB|JSON object"):
            _one(db, query, args)
    assert _counts(h) == before
    # the hub answers after, and a segment over 64 MiB is refused too
    assert (
        desk.execute(
            "SELECT agentapp.ship_recording(%s)", (Jsonb(meta(rid, "bob", "Sales basics")),)
        ).fetchone()[0]
        == "stored"
    )
    huge = os.urandom(1024) * (64 * 1024 + 1)
    with pytest.raises(psycopg.errors.CheckViolation):
        desk.execute("SELECT agentapp.ship_segment(%s, 'seg-000001.seal', %s, %s)",
                     (rid, huge, hashlib.sha256(huge).hexdigest()))  # fmt: skip
    desk.rollback()


def test_dates_are_the_hubs_and_the_purge_keeps_its_own_deadline(
    hub: tuple[Hub, Logins],
) -> None:
    from agentapp.hub.admin import purge

    h, logins = hub
    desk = logins("desk-b")
    rid = _reserve(desk)
    for when in (0.0, dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()):
        m = {**meta(rid, "bob", "Sales basics"), "started_at": when}
        answer = _one(desk, "SELECT agentapp.ship_recording(%s)", (Jsonb(m),))
        assert answer.startswith("refused: it says it started at"), answer
    long_call = {**meta(rid, "bob", "Sales basics"), "duration_s": 86_000}
    assert _one(desk, "SELECT agentapp.ship_recording(%s)",
                (Jsonb(long_call),)).startswith("refused: a call of")  # fmt: skip
    # a deadline in 2100 is the desk's word only: the hub's is the start plus 183 days
    far = {**meta(rid, "bob", "Sales basics"),
           "purge_after": dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()}  # fmt: skip
    assert _one(desk, "SELECT agentapp.ship_recording(%s)", (Jsonb(far),)) == "stored"
    with h.admin() as su:
        started, deadline, kept = su.execute(
            "SELECT started_at, purge_after, (meta->>'purge_after')::float FROM "
            "agentapp.recordings WHERE id = %s", (rid,)).fetchone()  # fmt: skip
    day = dt.timedelta(days=183)  # from the earlier of the start and the hub's reservation
    assert day - dt.timedelta(seconds=2) < deadline - started <= day, deadline - started
    assert abs(kept - deadline.timestamp()) < 1  # the metadata a trainer fetches says so
    # 183 days later by the hub's clock (its reservation and the start moved back), it goes
    with h.admin() as su:
        back = "interval '184 days'"
        su.execute(f"UPDATE agentapp.recordings SET started_at = started_at - {back}, "
                   f"purge_after = purge_after - {back} WHERE id = %s", (rid,))  # fmt: skip
        su.commit()
    assert purge(logins("it")).recordings >= 1
    with h.admin() as su:
        assert su.execute("SELECT count(*) FROM agentapp.recordings WHERE id = %s",
                          (rid,)).fetchone()[0] == 0  # fmt: skip


def test_no_login_can_hold_a_lock_that_a_desk_waits_on(hub: tuple[Hub, Logins]) -> None:
    """Each role tries the advisory keys the functions use, and the functions themselves
    inside transactions it keeps open: reservations and trail writes still go through at
    once, and the quota stays exact."""
    h, logins = hub
    holders = [logins(r) for r in ("desk-a", "alice", "carol")]
    for db in holders:
        for key in ("7406001", "hashtextextended('agentapp quota bob', 0)",
                    "hashtextextended('agentapp slot bob x 1', 0)"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                db.execute(f"SELECT pg_advisory_lock({key})")
            db.rollback()
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                db.execute(f"SELECT pg_try_advisory_xact_lock({key})")
            db.rollback()
    # the functions' own locks, held: a desk mid-reservation and mid-trail, a trainer and an
    # agent mid-act, none of them committing
    desk_a = holders[0]
    desk_a.execute("SELECT agentapp.reserve_slot(%s, 'bob')", (new_rid(),))
    desk_a.execute("SELECT agentapp.ship_audit('pc:hold', 1, 'h', 'now', 'bob', 'held', '', '')")
    people = [logins(who) for who in ("alice", "carol")]
    for db in people:
        db.execute("SELECT agentapp.audit_append('viewed', 'held', 'held open')")
    desk_b = logins("desk-b")
    desk_b.execute("SET statement_timeout = 1000")  # the desks' limit
    desk_b.commit()
    t0 = time.monotonic()
    rid = _reserve(desk_b)
    took = [time.monotonic() - t0]
    t0 = time.monotonic()
    assert _one(desk_b, "SELECT agentapp.ship_audit('pc:free', 1, 'h', 'now', 'bob', 'x', "
                "%s, '')", (rid,)) == "stored"  # fmt: skip
    took.append(time.monotonic() - t0)
    assert max(took) < 1.0, took
    with h.admin() as su:  # written, waiting for the chain the holders keep
        assert su.execute("SELECT count(*) FROM agentapp.audit_inbox WHERE source = 'pc:free'"
                          ).fetchone()[0] == 1  # fmt: skip
    for db in (desk_a, *people):
        db.commit()
    # once they let go, the next write chains everything, in order
    _one(logins("carol"), "SELECT agentapp.audit_append('viewed', 'after', 'weekly review')")
    with h.admin() as su:
        assert su.execute("SELECT count(*) FROM agentapp.audit_inbox").fetchone()[0] == 0
    from agentapp.hub.admin import audit_rows, verify_trail

    assert verify_trail(audit_rows(logins("dan"))).ok


def test_concurrent_reservations_with_slots_held_never_exceed_the_quota(
    hub: tuple[Hub, Logins],
) -> None:
    """alice's quota is 3: one slot held open by a desk, 20 reservations at once from two
    desks: 2 granted; when the holder commits, the week counts 3, never more."""
    _, logins = hub
    holder = logins("desk-a")
    used = _one(holder, "SELECT agentapp.week_used('alice')")
    holder.execute("SELECT agentapp.reserve_slot(%s, 'alice')", (new_rid(),))
    desks = [logins("desk-a" if i % 2 else "desk-b") for i in range(20)]
    start = threading.Barrier(20)
    answers: list[str] = []

    def reserve(db: Any) -> None:
        start.wait()
        answers.append(_one(db, "SELECT agentapp.reserve_slot(%s, 'alice')", (new_rid(),)))

    threads = [threading.Thread(target=reserve, args=(db,)) for db in desks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers.count("reserved") == 3 - used - 1, answers
    holder.commit()
    assert _one(holder, "SELECT agentapp.week_used('alice')") == 3


def test_fetch_from_a_forged_hub_writes_nothing_outside_its_folder(
    hub: tuple[Hub, Logins], tmp_path: Path, keystore: None
) -> None:
    """A superuser (or a hub older than these checks) holds rows whose ids and segment names
    are paths: the trainer's `agentapp hub fetch` exits 1 with one line and writes nothing
    anywhere, nor through a link planted in her folder."""
    h, logins = hub
    carol = tmp_path / "carol"
    carol.mkdir()
    (carol / "agent.toml").write_text(f'[hub]\nurl = "{h.url}"\nuser = "carol"\nca = "{h.ca}"\n')
    (carol / "policy.toml").write_text(POLICY)
    a = Agent(carol, {**os.environ, "AGENTAPP_DATA_DIR": str(carol), "AGENTAPP_USER": "carol"})
    secret = tmp_path / "pw"
    secret.write_text(logins.passwords["carol"])
    a.cli("hub", "login", "--password-file", str(secret))
    secret.unlink()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("hers")
    good = new_rid()
    forged = [(rid, "seg-000000.seal") for rid in BAD_IDS if "\n" not in rid]
    forged += [(good, "../../outside/precious.txt"), (good, "/tmp/agentapp-abs-seg")]
    linked = new_rid()
    forged += [(linked, "seg-000000.seal")]
    with h.admin() as su:
        su.execute(
            "ALTER DOMAIN agentapp.recording_id DROP CONSTRAINT "
            '"a recording id is YYYYMMDDTHHMMSSZ- and 8 hex digits"'
        )
        su.execute("ALTER DOMAIN agentapp.segment_name DROP CONSTRAINT "
                   '"a segment is named seg-NNNNNN.seal or voice-attached.seal"')  # fmt: skip
        su.execute("SET ROLE agentapp_owner")
        for rid, name in forged:
            su.execute(
                "INSERT INTO agentapp.recordings (id, agent, training, desk, started_at, "
                "purge_after, status, duration_s, segments, size_bytes, meta) VALUES (%s, "
                "'alice', 'CRM onboarding', 'desk-a', now(), now() + interval '1 day', "
                "'complete', 1, 1, 1, %s) ON CONFLICT DO NOTHING",
                (rid, Jsonb({"id": rid, "agent": "alice"})),
            )
            su.execute("INSERT INTO agentapp.segments VALUES (%s, %s, 'forged', %s)",
                       (rid, name, hashlib.sha256(b"forged").hexdigest()))  # fmt: skip
        su.commit()
    try:
        into = tmp_path / "fetched"  # her folder for fetches, with a link planted in it
        (into / "recordings").mkdir(parents=True)
        (into / "recordings" / linked).symlink_to(outside)

        def tree() -> dict[str, bytes]:
            return {str(p): (p.read_bytes() if p.is_file() and not p.is_symlink() else b"")
                    for p in sorted(Path("/tmp").glob("agentapp-abs*")) + sorted(
                        tmp_path.rglob("*"))}  # fmt: skip

        before = tree()
        for rid in [r for r, _ in forged]:
            r = subprocess_fetch(a, rid, into)
            assert r.returncode == 1, (rid, r.stdout, r.stderr)
            assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
            assert not r.stdout, r.stdout
        assert tree() == before
        assert (outside / "precious.txt").read_text() == "hers"
    finally:
        with h.admin() as su:
            su.execute("DELETE FROM agentapp.recordings WHERE id = ANY(%s)",
                       ([r for r, _ in forged],))  # fmt: skip
            su.execute(
                "ALTER DOMAIN agentapp.recording_id ADD CONSTRAINT "
                '"a recording id is YYYYMMDDTHHMMSSZ- and 8 hex digits" '
                "CHECK (VALUE ~ '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$')"
            )
            su.execute(
                "ALTER DOMAIN agentapp.segment_name ADD CONSTRAINT "
                '"a segment is named seg-NNNNNN.seal or voice-attached.seal" '
                "CHECK (VALUE ~ '^(seg-[0-9]{6}[.]seal|voice-attached[.]seal)$')"
            )
            su.commit()


def subprocess_fetch(a: Agent, rid: str, into: Path) -> Any:
    return a.cli("hub", "fetch", rid, "--into", str(into), "--reason", "weekly review",
                 check=False)  # fmt: skip


def test_a_hub_sending_more_than_a_recording_holds_is_stopped_before_the_desk_fills(
    hub: tuple[Hub, Logins], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub whose superuser piled segments onto a recording: the trainer's fetch reads them
    one row at a time and stops at what one recording can hold (the bounds made small here,
    the mechanism the same), writes nothing, and the same connection serves her next
    request."""
    from agentapp.hub import admin
    from agentapp.hub.connect import HubError

    h, logins = hub
    piled = new_rid()
    with h.admin() as su:
        su.execute("SET ROLE agentapp_owner")
        su.execute(
            "INSERT INTO agentapp.recordings (id, agent, training, desk, started_at, "
            "purge_after, status, duration_s, segments, size_bytes, meta) VALUES (%s, "
            "'alice', 'CRM onboarding', 'desk-a', now(), now() + interval '1 day', "
            "'complete', 1, 40, 1, %s)",
            (piled, Jsonb({"id": piled, "agent": "alice"})),
        )
        blob = b"x" * 4000
        digest = hashlib.sha256(blob).hexdigest()
        for n in range(40):
            su.execute("INSERT INTO agentapp.segments VALUES (%s, %s, %s, %s)",
                       (piled, f"seg-{n:06d}.seal", blob, digest))  # fmt: skip
        su.commit()
    carol = logins("carol")
    try:
        for files, size, why in ((1000, 100_000, "bytes"), (30, 10**9, "files")):
            monkeypatch.setattr(admin, "MAX_RECORDING_FILES", files)
            monkeypatch.setattr(admin, "MAX_RECORDING_BYTES", size)
            into = tmp_path / why
            with pytest.raises(HubError, match=r"more of .* than any recording holds"):
                admin.fetch(carol, piled, into, "weekly review")
            carol.rollback()
            assert not into.exists() or not any(into.rglob("*")), why
        monkeypatch.setattr(admin, "MAX_RECORDING_FILES", 1000)
        monkeypatch.setattr(admin, "MAX_RECORDING_BYTES", 1_000_000)
        folder = admin.fetch(carol, piled, tmp_path / "whole", "weekly review")
        assert len(list(folder.glob("seg-*.seal"))) == 40
    finally:
        with h.admin() as su:
            su.execute("DELETE FROM agentapp.recordings WHERE id = %s", (piled,))
            su.commit()
