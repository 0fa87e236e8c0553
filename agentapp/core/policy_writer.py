"""Write a Policy back to TOML, so tools (the `enrol` command, the console) edit the model and
never the text. `parse_policy(to_toml(p)) == p` for every valid policy (tested).

Comments of a hand-written file are not kept: a drafted policy is the tool's file. Pure;
thread-safe.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

from agentapp.core.policy import Enrolment, Policy, PolicyError, WindowRule, parse_policy


def _s(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _rule(table: str, r: WindowRule) -> list[str]:
    out = [f"[[{table}]]", f"name = {_s(r.name)}"]
    if r.wm_class is not None:
        out.append(f"wm_class = {_s(r.wm_class)}")
    if r.executable is not None:
        out.append(f"executable = {_s(r.executable)}")
    if r.title_pattern is not None:
        out.append(f"title_pattern = {_s(r.title_pattern.pattern)}")
    for key, pattern in (("url_pattern", r.url_pattern), ("field_pattern", r.field_pattern)):
        if pattern is not None:
            out.append(f"{key} = {_s(pattern.pattern)}")
    if r.popups:
        out.append("popups = true")
    return [*out, ""]


def to_toml(p: Policy) -> str:
    c = p.controller
    lines = [
        "# agentapp recording policy — written by agentapp; see README.md, 'The policy file'",
        f"version = {p.version}",
        f"purpose = {_s(p.purpose)}",
        "",
        "[controller]",
        f"name = {_s(c.name)}",
        f"contact = {_s(c.contact)}",
        f"dpo_contact = {_s(c.dpo_contact)}",
        "",
        "[recording]",
        f"fps = {p.fps}",
        f"segment_seconds = {p.segment_seconds}",
        f"max_call_minutes = {p.max_call_minutes}",
        f"lookbehind_ms = {p.lookbehind_ms}",
        f"record_internal_calls = {'true' if p.record_internal_calls else 'false'}",
        f"retention_days = {p.retention_days}",
        f"notes_retention_days = {p.notes_retention_days}",
        f"recipients = [{', '.join(_s(r) for r in p.recipients)}]",
        f"pause_hotkey = {_s(p.pause_hotkey)}",
        f"review_minutes = {p.review_minutes}",
        *([f"sampling_reason = {_s(p.sampling_reason)}"] if p.sampling_reason else []),
        *(
            [f"headless_desks = [{', '.join(_s(d) for d in p.headless_desks)}]"]
            if p.headless_desks
            else []
        ),
        "",
    ]
    if p.derogation is not None:
        lines += ["[derogation]", f"reference = {_s(p.derogation.reference)}",
                  f"reason = {_s(p.derogation.reason)}", ""]  # fmt: skip
    if p.admins:
        lines += ["[access]", f"admins = [{', '.join(_s(a) for a in p.admins)}]", ""]
    for t in p.trainers:
        lines += ["[[trainer]]", f"name = {_s(t.name)}",
                  f"trainings = [{', '.join(_s(x) for x in t.trainings)}]"]  # fmt: skip
        if t.minutes_per_week is not None:
            lines.append(f"minutes_per_week = {t.minutes_per_week}")
        lines.append("")
    for r in p.applications:
        lines += _rule("application", r)
    for r in p.sensitive:
        lines += _rule("sensitive", r)
    for e in p.enrolments:
        lines += [
            "[[enrolment]]",
            f"agent = {_s(e.agent)}",
            f"training = {_s(e.training)}",
            f"start = {e.start.isoformat()}",
            f"end = {e.end.isoformat()}",
            f"sampling_percent = {e.sampling_percent}",
            f"weekly_quota = {e.weekly_quota}",
            *([f"fps = {e.fps}"] if e.fps is not None else []),
            *([f"extension = {_s(e.extension)}"] if e.extension else []),
            "",
        ]
    return "\n".join(lines)


def with_enrolment(p: Policy, e: Enrolment) -> Policy:
    """A new version with `e` added (or replacing the agent's enrolment); validated."""
    others = tuple(x for x in p.enrolments if x.agent != e.agent)
    return _checked(replace(p, version=p.version + 1, enrolments=(*others, e)))


def without_enrolment(p: Policy, agent: str) -> Policy:
    if p.enrolment_for(agent) is None:
        raise PolicyError(f"'{agent}' is not enrolled")
    left = tuple(x for x in p.enrolments if x.agent != agent)
    return _checked(replace(p, version=p.version + 1, enrolments=left))


def with_application(p: Policy, rule: WindowRule) -> Policy:
    """A new version with `rule` added (or replacing the rule of that name); validated."""
    others = tuple(a for a in p.applications if a.name != rule.name)
    return _checked(replace(p, version=p.version + 1, applications=(*others, rule)))


def without_application(p: Policy, name: str) -> Policy:
    left = tuple(a for a in p.applications if a.name != name)
    if len(left) == len(p.applications):
        raise PolicyError(f"no application '{name}'")
    return _checked(replace(p, version=p.version + 1, applications=left))


def default_end(start: dt.date) -> dt.date:
    """Three months: a training period, never open-ended (R5)."""
    return start + dt.timedelta(days=91)


def _checked(p: Policy) -> Policy:
    """Every rule the parser enforces (durations, quotas…) applies to an edit as well."""
    return parse_policy(to_toml(p), "edited policy")
