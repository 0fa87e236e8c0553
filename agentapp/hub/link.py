"""A desk and its hub: the weekly slot reserved at off-hook, the local trail and the sealed
recordings shipped (docs/hub.md).

- `reserve` runs on the engine's thread at off-hook. It never connects (a connection is
  kept ready by the link's thread) and never waits long: with no live connection, or no
  answer within RESERVE_TIMEOUT_MS, the answer is DOWN and the call is not recorded (fails
  closed: there is no offline allowance, so the week's count stays exact).
- The link's thread ships, every `interval` seconds: the trail's new entries in order (the
  hub chains them; a recording discarded or not kept gives its slot back, and one shipped
  already is withdrawn), then each sealed recording with its segments in one transaction,
  after which only its metadata stays here (like the site folder's shipper). A hub that is
  down mid-call loses nothing: the recording is sealed here and shipped when it is back.

Threading: `reserve` and `withdraw` from any thread; shipping on the link's own daemon
thread; each of the two connections has its own lock.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentapp.core.auditchain import CHECKPOINT, checkpoints, entry_hash
from agentapp.core.gate import HUB_DOWN as DOWN
from agentapp.core.names import is_recording_id
from agentapp.hub.connect import HubError, desk_connect, first_line
from agentapp.i18n import _
from agentapp.vault.audit import AuditError, AuditLog
from agentapp.vault.store import (
    META,
    STATUS_COMPLETE,
    STATUS_INTERRUPTED,
    Vault,
)

if TYPE_CHECKING:
    from agentapp.core.config import HubConfig

log = logging.getLogger(__name__)
RESERVE_TIMEOUT_MS = 1000
WARM_UP = "SELECT agentapp.reserve_slot('19700101T000000Z-00000000', '')"
TRAIL_ROUND = 200  # entries per call (the hub refuses more than 500)
GIVES_BACK = ("recording discarded", "recording not kept")


def trail_source(audit: AuditLog) -> str:
    """This desk's trail, as the hub names it."""
    return f"{socket.gethostname()}:{audit.path}"


def check_with_hub(hub: HubConfig, audit: AuditLog) -> tuple[bool, str]:
    """The hub's copy is what a desk's trail is checked against (a trail rewritten here with
    the desk's own key verifies on its own): the last entry the hub holds must be here,
    unchanged. And the other way: each checkpoint this trail holds (the hub chain's head as
    it was after a round) must still be in the hub's chain, with the same hash. (ok, a
    line); HubError if the hub does not answer."""
    from agentapp.hub.connect import one_row

    entries = {int(e.get("seq", 0)): e for e in audit.entries()}
    marks = checkpoints(list(entries.values()))[-1000:]
    with desk_connect(hub, app="agentapp audit") as db:
        seq, digest = one_row(
            db,
            "SELECT local_seq, local_hash FROM agentapp.shipped_head(%s)",
            (trail_source(audit),),
        )
        held = dict(
            db.execute(
                "SELECT seq, hash FROM agentapp.trail_hashes(%s)", ([m.seq for m in marks],)
            ).fetchall()
        )
    if seq is None:
        said = _("the hub holds no entry of this trail yet")
    else:
        mine = entries.get(int(seq))
        if mine is None:
            return False, _(
                "BROKEN: the hub holds entry {n} of this trail, which is no longer here"
            ).format(n=seq)
        if entry_hash(mine) != digest:
            return False, _("BROKEN: entry {n} here differs from the hub's copy").format(n=seq)
        later = sum(1 for n in entries if n > int(seq))
        said = _("the hub holds entries 1 to {n}, the same as here; {later} still to ship").format(
            n=seq, later=later
        )
    for m in marks:
        if held.get(m.seq) != m.hash:
            why = (
                _("BROKEN: the hub's trail no longer holds its entry {n}, seen from here on {at}")
                if m.seq not in held
                else _("BROKEN: the hub's entry {n} is not the one seen from here on {at}")
            )
            return False, why.format(n=m.seq, at=m.at[:19])
    if marks:
        said += "; " + _(
            "checkpoints taken here: {n}, all held unchanged in the hub's trail (the last: entry "
            "{seq})"
        ).format(n=len(marks), seq=marks[-1].seq)
    return True, said


def warm_up(db: Any) -> None:
    """A new connection's first reservation costs its server process the function's
    compilation and the tables' descriptions (500 desks connecting at once: 1.8 s instead of
    0.5, bench/bench_hub.py): pay it at connect, with a reservation that reads only (an id of
    1970, the agent nobody is) and is rolled back."""
    db.execute(WARM_UP)
    db.rollback()


def ship_trail(db: Any, source: str, entries: list[dict[str, Any]]) -> list[str]:
    """Entries of a local trail, in order, to the hub's chain (`ship_audit_batch`, a call per
    TRAIL_ROUND entries), not committed; the hub's answer for each ('stored', 'known',
    'conflict')."""
    from psycopg.types.json import Jsonb

    from agentapp.hub.connect import one_row

    rows = [{"seq": int(e["seq"]), "hash": entry_hash(e),
             **{k: str(e.get(k, "")) for k in ("at", "who", "action", "target", "reason")}}
            for e in entries]  # fmt: skip
    out: list[str] = []
    for start in range(0, len(rows), TRAIL_ROUND):
        (answers,) = one_row(db, "SELECT agentapp.ship_audit_batch(%s, %s)",
                             (source, Jsonb(rows[start : start + TRAIL_ROUND])))  # fmt: skip
        out += answers
    return out


class HubLink:
    def __init__(
        self,
        hub: HubConfig,
        vault: Vault,
        audit: AuditLog,
        interval: float = 10.0,
        connect: Callable[[], Any] | None = None,
        on_problem: Callable[[str | None], None] | None = None,
    ) -> None:
        self.hub = hub
        self.vault = vault
        self.audit = audit
        self.source = trail_source(audit)
        self._connect = connect or (lambda: desk_connect(hub))
        # a reservation on a cut network gives up as soon as the hub stops acknowledging
        self._connect_quick = connect or (
            lambda: desk_connect(hub, tcp_user_timeout=RESERVE_TIMEOUT_MS)
        )
        self._interval = interval
        self._on_problem = on_problem or (lambda problem: None)
        self._quick: Any = None  # reservations only: never busy with a shipment
        self._quick_lock = threading.Lock()
        self._ship: Any = None
        self._ship_lock = threading.Lock()
        self._unreleased: set[str] = set()  # slots to give back (release)
        self._pending_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-link", daemon=True)
        self.problem: str | None = "site hub: not connected yet"
        self._problems: dict[str, str | None] = {"quick": self.problem, "ship": None}

    # ------------------------------------------------------------------ lifetime
    def start(self) -> None:
        """Fails closed until the hub first answers."""
        self._on_problem(self.problem)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        for lock, name in ((self._quick_lock, "_quick"), (self._ship_lock, "_ship")):
            with lock:
                db = getattr(self, name)
                if db is not None:
                    db.close()
                setattr(self, name, None)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.connect_quick()
            self.ship_all()
            self._wake.wait(self._interval)
            self._wake.clear()

    def connect_quick(self) -> None:
        """Have a live reservation connection ready: the one there answers, or a new one
        (the link's thread; tests call it)."""
        import psycopg

        with self._quick_lock:
            if self._quick is not None and not self._quick.closed:
                try:
                    self._quick.execute("SELECT 1").fetchone()
                    self._quick.commit()
                    self._problem("quick", None)
                    return
                except psycopg.Error:
                    self._quick.close()
                    self._quick = None
        try:
            db = self._connect_quick()
            db.execute(f"SET statement_timeout = {RESERVE_TIMEOUT_MS}")
            db.commit()
            warm_up(db)
        except (HubError, psycopg.Error) as exc:
            self._problem("quick", f"site hub unreachable: {first_line(exc)}")
            return
        with self._quick_lock:
            self._quick = db
        self._problem("quick", None)

    # ------------------------------------------------------------------ at off-hook
    def reserve(self, recording_id: str, agent: str) -> str:
        """HUB_RESERVED, HUB_DOWN, or the hub's refusal ('quota reached', 'not enrolled', …)."""
        import psycopg

        if not self._quick_lock.acquire(timeout=RESERVE_TIMEOUT_MS / 1000):
            return DOWN
        try:
            db = self._quick
            if db is None or db.closed:
                self._wake.set()
                return DOWN
            try:
                answer = str(
                    db.execute(
                        "SELECT agentapp.reserve_slot(%s, %s)", (recording_id, agent)
                    ).fetchone()[0]
                )
                db.commit()
            except psycopg.Error as exc:
                db.close()
                self._quick = None
                self._problem("quick", f"site hub unreachable: {first_line(exc)}")
                self._wake.set()
                return DOWN
        finally:
            self._quick_lock.release()
        log.info("hub slot for recording %s: %s", recording_id, answer)
        return answer

    def release(self, recording_id: str) -> None:
        """Give back a slot reserved for a recording that did not start (its trail entry
        could not be written, so no 'recording discarded' will ever say so): at once if
        the hub answers within the reservation's limit, else at the next shipping round."""
        import psycopg

        with self._pending_lock:
            self._unreleased.add(recording_id)
        if self._quick_lock.acquire(timeout=RESERVE_TIMEOUT_MS / 1000):
            try:
                if self._quick is not None and not self._quick.closed:
                    try:
                        self._give_back(self._quick)
                    except psycopg.Error:
                        self._quick.close()
                        self._quick = None
            finally:
                self._quick_lock.release()
        self._wake.set()

    def _give_back(self, db: Any) -> None:
        with self._pending_lock:
            pending = sorted(self._unreleased)
        for rid in pending:
            db.execute("SELECT agentapp.release_slot(%s)", (rid,))
        db.commit()
        with self._pending_lock:
            self._unreleased.difference_update(pending)
        for rid in pending:
            log.info("hub slot for recording %s given back", rid)

    def withdraw(self, rid: str) -> None:
        """Erase a recording here now; at the hub, the trail's 'recording discarded' entry
        withdraws it when shipped (or at once, if the hub answers)."""
        if self.vault.has(rid):
            self.vault.delete(rid)
        self._wake.set()

    # ------------------------------------------------------------------ shipping
    def ship_all(self) -> int:
        """The trail's new entries, then each sealed recording. Returns the recordings
        shipped; stops at the first failure (retried on the next round)."""
        import psycopg

        with self._ship_lock:
            try:
                if self._ship is None or self._ship.closed:
                    self._ship = self._connect()
                self._give_back(self._ship)
                self._ship_trail(self._ship)
                shipped = 0
                for meta in self.vault.recordings():
                    if meta.status in (STATUS_COMPLETE, STATUS_INTERRUPTED):
                        shipped += self._ship_recording(self._ship, meta.id)
            except HubError as exc:
                self._problem("ship", str(exc))
                return 0
            except psycopg.Error as exc:
                if self._ship is not None:
                    self._ship.close()
                self._ship = None
                self._problem("ship", f"site hub unreachable: {first_line(exc)}")
                return 0
            except AuditError as exc:
                self._problem("ship", f"the trail cannot be shipped: {exc}")
                return 0
        self._problem("ship", None)
        return shipped

    def _ship_trail(self, db: Any) -> None:
        head = db.execute(
            "SELECT local_seq FROM agentapp.shipped_head(%s)", (self.source,)
        ).fetchone()
        upto = int(head[0]) if head and head[0] is not None else 0
        db.commit()
        entries = self.audit.entries()
        # the hub's last entry is sent again: the hub says whether this trail still holds it
        # (a trail wiped and started again here is recorded there as rewritten)
        since = min(upto, max((int(e.get("seq", 0)) for e in entries), default=0))
        batch = [e for e in entries if int(e.get("seq", 0)) >= since]
        news = False
        for start in range(0, len(batch), TRAIL_ROUND):  # the hub takes 500 at most
            part = batch[start : start + TRAIL_ROUND]
            answers = ship_trail(db, self.source, part)
            for e in part:
                if e.get("action") in GIVES_BACK and is_recording_id(e.get("target")):
                    db.execute("SELECT agentapp.withdraw_recording(%s)", (e["target"],))
                    db.execute("SELECT agentapp.release_slot(%s)", (e["target"],))
            db.commit()
            for e, answer in zip(part, answers, strict=True):
                if answer == "conflict":
                    log.warning("the hub holds another entry %s of this desk's trail", e["seq"])
                news |= answer == "stored" and e.get("action") != CHECKPOINT
        if news:  # (a round of checkpoints alone takes none: it would never end)
            self._checkpoint(db)

    def _checkpoint(self, db: Any) -> None:
        """The hub chain's head, durable there, into this desk's signed trail."""
        seq, digest = db.execute(
            "SELECT seq, hash FROM agentapp.trail_head(%s)", (self.source,)
        ).fetchone()
        db.commit()
        if seq is not None:
            self.audit.append("agentapp", CHECKPOINT, str(seq), str(digest), role="system")

    def _ship_recording(self, db: Any, rid: str) -> int:
        from psycopg.types.json import Jsonb

        src = self.vault.folder(rid)
        meta_bytes = (src / META).read_bytes()
        meta = json.loads(meta_bytes)
        answer = db.execute("SELECT agentapp.ship_recording(%s)", (Jsonb(meta),)).fetchone()[0]
        if answer == "stored":
            for f in self.vault.sealed_files(rid):
                if f.is_file():
                    data = f.read_bytes()
                    db.execute(
                        "SELECT agentapp.ship_segment(%s, %s, %s, %s)",
                        (rid, f.name, data, hashlib.sha256(data).hexdigest()),
                    )
        db.commit()
        if answer not in ("stored", "known"):
            log.warning("the hub refused recording %s: %s (kept sealed here)", rid, answer)
            return 0
        self.vault.keep_stub(rid, meta_bytes)
        log.info("recording %s delivered to the hub", rid)
        return 1

    def _problem(self, part: str, problem: str | None) -> None:
        """Either connection's trouble is the desk's: no reservation, or nothing shipped."""
        self._problems[part] = problem
        problem = self._problems["quick"] or self._problems["ship"]
        if problem != self.problem:
            if problem:
                log.warning("%s", problem)
            else:
                log.warning("site hub reachable")
            self.problem = problem
            self._on_problem(problem)
