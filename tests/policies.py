"""Policy texts shared by unit and integration tests."""

from __future__ import annotations

import datetime as dt
import socket

ACCESS = """
[access]
admins = ["dan"]

[[trainer]]
name = "carol"
trainings = ["CRM onboarding"]
minutes_per_week = 300
"""


# A trainer with time for 50 recordings a week (tests that need a quota over 8, see R5/R6).
CAPACITY = """
[[trainer]]
name = "reviewer"
trainings = ["CRM onboarding"]
minutes_per_week = 750
"""

# Tests record every call of their test agent, which a real policy may do only with a reason.
SAMPLING_REASON = 'sampling_reason = "tests: every call of the test agent is recorded"'


def policy_text(
    agent: str | None = "alice",
    *,
    wm_class: str = "agentapp-business",
    sampling: int = 100,
    quota: int | None = 5,
    start: dt.date | None = None,
    end: dt.date | None = None,
    fps: int = 10,
    segment_seconds: int = 30,
    max_call_minutes: int = 60,
    internal: bool = False,
    sensitive_class: str | None = None,
    retention_days: int | None = None,
    notes_retention_days: int | None = None,
    lookbehind_ms: int | None = None,
    application: str | None = None,
    sensitive: str | None = None,
    extra: str = "",
    headless: bool = True,
) -> str:
    """The agents of the tests run headless on this machine, which the policy allows
    (`headless` False: it does not). `extra` is appended as is ([derogation], [access],
    [[trainer]] tables…);
    `application` / `sensitive` replace the body of the [[application]] / [[sensitive]]
    table (TOML lines)."""
    today = dt.date.today()
    start = start or today - dt.timedelta(days=1)
    end = end or today + dt.timedelta(days=30)
    quota_line = f"weekly_quota = {quota}" if quota is not None else ""
    enrol = (
        f"""
[[enrolment]]
agent = "{agent}"
training = "CRM onboarding"
start = {start.isoformat()}
end = {end.isoformat()}
"""
        if agent
        else ""
    )
    if sensitive is not None:
        sensitive = f"\n[[sensitive]]\n{sensitive}\n"
    elif sensitive_class:
        sensitive = f'\n[[sensitive]]\nname = "Payment"\nwm_class = "{sensitive_class}"\n'
    else:
        sensitive = ""
    application = application or f'name = "CRM"\nwm_class = "{wm_class}"'

    return f"""
version = 1
purpose = "training"

[controller]
name = "Example Contact Center SAS"
contact = "privacy@example.test"
dpo_contact = "dpo@example.test"

[recording]
fps = {fps}
segment_seconds = {segment_seconds}
max_call_minutes = {max_call_minutes}
sampling_percent = {sampling}
{SAMPLING_REASON if sampling > 50 else ""}
{quota_line}
record_internal_calls = {"true" if internal else "false"}
{f'headless_desks = ["{socket.gethostname()}"]' if headless else ""}
{f"retention_days = {retention_days}" if retention_days else ""}
{f"notes_retention_days = {notes_retention_days}" if notes_retention_days else ""}
{f"lookbehind_ms = {lookbehind_ms}" if lookbehind_ms is not None else ""}

[[application]]
{application}
{sensitive}{enrol}
{extra}
"""


# an analysis grid (core/grid.py) for the training of policy_text's agents
GRID = """
[[grid]]
training = "CRM onboarding"

[[grid.criterion]]
name = "Greeting"
description = "Says who they are and the company's name; asks how they can help"

[[grid.criterion]]
name = "Rephrasing"
description = "Repeats the customer's request in their own words before answering"

[[grid.criterion]]
name = "Takes notes in 3 steps"
"""
