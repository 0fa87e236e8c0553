"""hub/admin.py's reading of the hub's answers that changed between schema versions (the real
hub's answers: integration/test_hub*.py)."""

from __future__ import annotations

from typing import Any

from agentapp.hub.admin import Purged, purge


class _AnswersOnce:
    """A connection whose query answers one row (the unit level: no PostgreSQL here)."""

    def __init__(self, row: tuple[Any, ...]) -> None:
        self.row = row
        self.committed = False

    def execute(self, sql: str, *args: object) -> _AnswersOnce:
        assert "purge_expired()" in sql
        return self

    def fetchone(self) -> tuple[Any, ...]:
        return self.row

    def commit(self) -> None:
        self.committed = True


def test_the_purge_reads_both_counts_and_a_schema_4_hubs_single_one() -> None:
    now = _AnswersOnce((2, 5))
    assert purge(now) == Purged(2, 5) and now.committed
    old = _AnswersOnce((3,))  # a hub made with schema 4: recordings only, documents uncounted
    assert purge(old) == Purged(3, None) and old.committed


class _Answers:
    """A connection whose query answers `rows` (a hostile hub's)."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def execute(self, sql: str, *args: object) -> _Answers:
        assert "agentapp.read_document(" in sql
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass


def test_a_document_or_a_slip_larger_than_the_hub_keeps_is_not_believed() -> None:
    import datetime as dt

    import pytest

    from agentapp.hub.connect import HubError
    from agentapp.hub.training import MAX_SEALED, MAX_SLIP, read_document

    now = dt.datetime.now(dt.UTC)
    meta = (7, "coaching", "20261207T100000Z-aaaa", "alice", "CRM", "carol", now, now)
    fine = read_document(_Answers([(*meta, b"x" * 10, b'{"kid": "k"}')]), 7, "why")
    assert fine.sealed == b"x" * 10 and fine.slip == {"kid": "k"}
    for sealed, slip, said in (
        (b"x" * (MAX_SEALED + 1), None, "larger than any it keeps"),
        (b"x", b'{"kid": "' + b"k" * MAX_SLIP + b'"}', "slip that is not one"),
        (b"x", b'["not", "a", "slip"]', "slip that is not one"),
    ):
        with pytest.raises(HubError, match=said):
            read_document(_Answers([(*meta, sealed, slip)]), 7, "why")
