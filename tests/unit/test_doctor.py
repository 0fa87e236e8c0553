"""The doctor's clock check: a clock behind what was already written is named."""

from __future__ import annotations

from agentapp.agent.doctor import clock_problem

NOW = 1_795_000_000.0  # 2026-11


def test_a_sane_clock_passes() -> None:
    assert clock_problem(NOW, None) is None
    assert clock_problem(NOW, NOW - 3600) is None
    assert clock_problem(NOW, NOW + 30) is None  # a few seconds of drift between processes


def test_a_clock_behind_the_trail_or_before_2025_is_named() -> None:
    assert "behind the last audit entry" in (clock_problem(NOW, NOW + 86400) or "")
    assert "before 2025" in (clock_problem(946_684_800.0, None) or "")
