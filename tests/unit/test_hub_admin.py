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
